const HOUR_MS = 3_600_000;
/** Per slot: decayed part, decayed whole, hour last learnt, distinct weeks learnt. */
const FIELDS = 4;
const PART = 0;
const WHOLE = 1;
const LEARNT_AT = 2;
const WEEKS = 3;

/**
 * A share per seasonal slot (cache_efficiency_drop's team baseline: cache-read tokens over input
 * tokens per local hour × day type), each slot's two token sums decaying with the time since the
 * slot last learnt, so the share is that of its last weeks.
 *
 * Packed in one Float32Array (a JS array of 192 doubles is ~1.5 KB a team key, against a target
 * of 1 KB): the sums only ever make a ratio, and 7 significant digits of a ratio are far finer
 * than the points a drop is judged in. The hour last learnt is kept in hours since 1970 (exact
 * in Float32 until the year 3884), not epoch ms, which Float32 cannot hold; weeks are whole
 * numbers, exact far past any key's age.
 *
 * It serialises (toJSON) as the flat array snapshots held before it was packed — [part, whole,
 * hour last learnt in epoch ms, weeks learnt] per slot — and `shareProfile` turns that back into one.
 */
export class ShareProfile extends Float32Array {
  toJSON(): number[] {
    const out = Array.from(this);
    for (let i = LEARNT_AT; i < out.length; i += FIELDS) out[i] = (out[i] as number) * HOUR_MS;
    return out;
  }
}

export function createShareProfile(slots: number): ShareProfile {
  return new ShareProfile(slots * FIELDS);
}

/** The slot's share; 0 before it has learnt any whole. */
export function profileShare(p: ShareProfile, slot: number): number {
  const whole = p[slot * FIELDS + WHOLE] as number;
  return whole > 0 ? (p[slot * FIELDS + PART] as number) / whole : 0;
}

/** Distinct weeks the slot has learnt in (as `learnShare` was told). */
export const profileWeeks = (p: ShareProfile, slot: number): number => p[slot * FIELDS + WEEKS] as number;

/** Start of the hour the slot last learnt (epoch ms); 0 before it has learnt. */
export const profileLearntAt = (p: ShareProfile, slot: number): number => (p[slot * FIELDS + LEARNT_AT] as number) * HOUR_MS;

/**
 * Folds an hour (`hour`, epoch ms of its start) into the slot: its sums decay by e^(−Δh/τ) over
 * the hours since it last learnt (none the first time), then take `part` and `whole`;
 * `newWeek` says the hour is in another week than the one it last learnt in.
 */
export function learnShare(
  p: ShareProfile,
  slot: number,
  hour: number,
  part: number,
  whole: number,
  tauHours: number,
  newWeek: boolean,
): void {
  const i = slot * FIELDS;
  const at = hour / HOUR_MS;
  const last = p[i + LEARNT_AT] as number;
  const decay = last > 0 ? Math.exp(-(at - last) / tauHours) : 1;
  p[i + PART] = (p[i + PART] as number) * decay + part;
  p[i + WHOLE] = (p[i + WHOLE] as number) * decay + whole;
  p[i + LEARNT_AT] = at;
  if (newWeek) p[i + WEEKS] = (p[i + WEEKS] as number) + 1;
}

/** An hour the slot must not learn from nor age over (a planned change): a slot that has learnt before counts from it. */
export function skipShareHour(p: ShareProfile, slot: number, hour: number): void {
  const i = slot * FIELDS;
  if ((p[i + LEARNT_AT] as number) > 0) p[i + LEARNT_AT] = hour / HOUR_MS;
}

/**
 * The profile a snapshot holds: a ShareProfile as is; its JSON (from this version or one before
 * profiles were packed: hours in epoch ms) or a structured clone of one (a Float32Array, hours
 * already in hours) packed again.
 */
export function shareProfile(saved: ShareProfile | Float32Array | readonly number[]): ShareProfile {
  if (saved instanceof ShareProfile) return saved;
  const p = new ShareProfile(saved.length);
  p.set(saved);
  if (Array.isArray(saved)) for (let i = LEARNT_AT; i < p.length; i += FIELDS) p[i] = (saved[i] as number) / HOUR_MS;
  return p;
}
