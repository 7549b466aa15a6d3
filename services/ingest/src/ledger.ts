import { hash } from 'node:crypto';

/** What the ledger keeps of one accepted event. */
export interface LedgerEntry {
  event_id: string;
  /** Digest of the source record's content (UsageEvent.fingerprint); '' when unknown (events stored before it existed). */
  fingerprint: string;
}

/** What a record is, against every event accepted within the window. */
export type Verdict =
  | { kind: 'new' }
  /** The same id with the same content: a resend. Answered as accepted, never published again. */
  | { kind: 'duplicate' }
  /** The same id with other content: refused, events are immutable. */
  | { kind: 'conflict'; firstSeenAt: string };

export interface LedgerStats {
  /** Event ids held: those accepted within the window, and expired ones until the table is next rebuilt. */
  entries: number;
  /** Bytes of the tables that hold them. */
  bytes: number;
  duplicates: number;
  conflicts: number;
}

export interface EventLedger {
  /**
   * Classifies each entry, in order (a repeated id within the call is a duplicate or conflict of
   * the first), and reserves the new ones until `settle`. An id another request has reserved and
   * not yet settled is waited for: if that publish fails, the id is new here.
   */
  reserve(entries: readonly LedgerEntry[]): Promise<Verdict[]>;
  /** Ends a reservation: `published` keeps the new ids for the window, otherwise they are forgotten. */
  settle(entries: readonly LedgerEntry[], verdicts: readonly Verdict[], published: boolean): void;
  /** Adds events already accepted before this process started (read back from the store). */
  remember(entry: LedgerEntry, acceptedAtMs: number): void;
  stats(): LedgerStats;
}

export interface LedgerOptions {
  /** How long an accepted id is remembered (config `ingest.dedupe_window`). */
  windowMs: number;
  now: () => number;
  /** Initial slots (a power of two); grows as needed. */
  initialCapacity?: number;
}

const EMPTY = 0;

/**
 * 64 bits of SHA-256 of the id. Ids are chosen by clients, so a fast non-cryptographic hash would
 * let one client craft ids that collide with another's and have their events refused or swallowed;
 * SHA-256 costs about a microsecond per id.
 */
function idHash(id: string): [number, number] {
  const digest = hash('sha256', id, 'buffer');
  return [digest.readUInt32BE(0), digest.readUInt32BE(4)];
}

/**
 * 32 bits of a fingerprint for the table (FNV-1a); 0 is kept for "unknown" (events stored before
 * fingerprints). A fast hash is enough here: a crafted collision only makes a sender's own
 * changed record look like its resend, which drops that record.
 */
function fingerprintBits(fingerprint: string): number {
  if (fingerprint === '') return 0;
  let h = 0x811c9dc5;
  for (let i = 0; i < fingerprint.length; i++) h = Math.imul(h ^ fingerprint.charCodeAt(i), 0x01000193);
  return h >>> 0 || 1;
}

/** One reserve() call's new ids: settled together, so a waiting resend needs one promise per request, not per id. */
interface Reservation {
  settled: Promise<boolean>;
  resolve: (published: boolean) => void;
}

interface Pending {
  fingerprint: string;
  hash: [number, number];
  reservation: Reservation;
}

/**
 * The event ids accepted within a window, in an open-addressing hash table of typed arrays: 16
 * bytes a slot, at most half full, so about 32 bytes per remembered event (a million a day over
 * the default 48 h is 64 MB), where a Map of id strings would take ten times that.
 *
 * Accepted ids live in the table; ids whose publish is in flight are reservations in a Map, so a
 * concurrent resend of the same batch waits for the first answer instead of being acknowledged
 * for an event that may yet fail to publish. Expired ids are dropped when the table is rebuilt.
 */
export function createEventLedger(options: LedgerOptions): EventLedger {
  const { windowMs, now } = options;
  let capacity = Math.max(16, options.initialCapacity ?? 1 << 16);
  let hi = new Uint32Array(capacity);
  let lo = new Uint32Array(capacity);
  let fps = new Uint32Array(capacity);
  // Seconds since the epoch when accepted; 0 marks an empty slot.
  let seconds = new Uint32Array(capacity);
  let used = 0;
  const pending = new Map<string, Pending>();
  const counts = { duplicates: 0, conflicts: 0 };

  const slotOf = (h: number, l: number): number => {
    const mask = capacity - 1;
    let i = (l ^ (h >>> 7)) & mask;
    while (seconds[i] !== EMPTY && !(hi[i] === h && lo[i] === l)) i = (i + 1) & mask;
    return i;
  };

  const rebuild = (nextCapacity: number): void => {
    const cutoff = Math.floor((now() - windowMs) / 1000);
    const old = { hi, lo, fps, seconds };
    capacity = nextCapacity;
    hi = new Uint32Array(capacity);
    lo = new Uint32Array(capacity);
    fps = new Uint32Array(capacity);
    seconds = new Uint32Array(capacity);
    used = 0;
    for (let i = 0; i < old.seconds.length; i++) {
      const at = old.seconds[i] as number;
      if (at === EMPTY || at < cutoff) continue;
      const slot = slotOf(old.hi[i] as number, old.lo[i] as number);
      hi[slot] = old.hi[i] as number;
      lo[slot] = old.lo[i] as number;
      fps[slot] = old.fps[i] as number;
      seconds[slot] = at;
      used += 1;
    }
  };

  const put = ([h, l]: [number, number], fingerprint: string, atMs: number): void => {
    const slot = slotOf(h, l);
    const at = Math.max(1, Math.floor(atMs / 1000));
    if (seconds[slot] !== EMPTY) {
      // Still remembered: the first content stays (events are immutable). Expired: the id is free again.
      if ((seconds[slot] as number) * 1000 >= now() - windowMs) return;
      fps[slot] = fingerprintBits(fingerprint);
      seconds[slot] = at;
      return;
    }
    hi[slot] = h;
    lo[slot] = l;
    fps[slot] = fingerprintBits(fingerprint);
    seconds[slot] = at;
    used += 1;
    if (used * 2 > capacity) {
      // Expired ids go first; grow only when what is live still fills half the table.
      rebuild(capacity);
      if (used * 2 > capacity) rebuild(capacity * 2);
    }
  };

  /** The accepted entry's verdict for `fingerprint`, or undefined when the id is not in the table (or expired). */
  const lookup = ([h, l]: [number, number], fingerprint: string): Verdict | undefined => {
    const slot = slotOf(h, l);
    const at = seconds[slot] as number;
    if (at === EMPTY || at * 1000 < now() - windowMs) return undefined;
    const stored = fps[slot] as number;
    // An id accepted before fingerprints existed cannot be told apart: a resend is the likely case.
    if (stored === 0 || fingerprint === '' || stored === fingerprintBits(fingerprint)) return { kind: 'duplicate' };
    return { kind: 'conflict', firstSeenAt: new Date(at * 1000).toISOString() };
  };

  const verdictOf = (own: Reservation, entry: LedgerEntry, h: [number, number]): Verdict | Promise<boolean> => {
    const inFlight = pending.get(entry.event_id);
    if (inFlight !== undefined) {
      if (inFlight.reservation !== own) return inFlight.reservation.settled;
      // Repeated within this call: judged against its first occurrence.
      const first = inFlight.fingerprint;
      return first === entry.fingerprint || first === '' || entry.fingerprint === ''
        ? { kind: 'duplicate' }
        : { kind: 'conflict', firstSeenAt: new Date(now()).toISOString() };
    }
    return lookup(h, entry.fingerprint) ?? { kind: 'new' };
  };

  const ledger: EventLedger = {
    async reserve(entries) {
      const verdicts: Verdict[] = [];
      let resolve!: (published: boolean) => void;
      const own: Reservation = { settled: new Promise<boolean>((r) => (resolve = r)), resolve: (p) => resolve(p) };
      for (const entry of entries) {
        const h = idHash(entry.event_id);
        let verdict = verdictOf(own, entry, h);
        // Another request holds the id: wait for its publish, then look again. Bounded: each
        // wait ends a reservation, and a failed one leaves the id free for this request.
        for (let waits = 0; verdict instanceof Promise && waits < 8; waits++) {
          await verdict;
          verdict = verdictOf(own, entry, h);
        }
        if (verdict instanceof Promise) throw new Error(`event id ${entry.event_id} stayed reserved by other requests`);
        if (verdict.kind === 'new') pending.set(entry.event_id, { fingerprint: entry.fingerprint, hash: h, reservation: own });
        else if (verdict.kind === 'duplicate') counts.duplicates += 1;
        else counts.conflicts += 1;
        verdicts.push(verdict);
      }
      return verdicts;
    },

    settle(entries, verdicts, published) {
      const at = now();
      let reservation: Reservation | undefined;
      entries.forEach((entry, i) => {
        if (verdicts[i]?.kind !== 'new') return;
        const held = pending.get(entry.event_id);
        if (held === undefined) return;
        pending.delete(entry.event_id);
        if (published) put(held.hash, entry.fingerprint, at);
        reservation = held.reservation;
      });
      reservation?.resolve(published);
    },

    remember(entry, acceptedAtMs) {
      if (acceptedAtMs < now() - windowMs) return;
      put(idHash(entry.event_id), entry.fingerprint, acceptedAtMs);
    },

    stats: () => ({ entries: used, bytes: capacity * 16, ...counts }),
  };
  return ledger;
}

/** Where accepted event ids are read back from after a restart: the store's usage_events. */
export interface AcceptedEventIds {
  listAcceptedEventIds(query: {
    org: string;
    since: string;
    after?: string;
    limit: number;
  }): Promise<readonly { event_id: string; fingerprint: string; ingested_at: string }[]>;
}

/**
 * Fills the ledger with the events the store holds from within the window, a page at a time.
 * Call it once the store has every acknowledged event (in embedded mode: after the sink caught up
 * with the log), before taking requests; returns how many ids it read.
 */
export async function warmLedger(
  ledger: EventLedger,
  from: AcceptedEventIds,
  options: { org: string; windowMs: number; now: number; pageSize?: number },
): Promise<number> {
  const pageSize = options.pageSize ?? 50_000;
  const since = new Date(options.now - options.windowMs).toISOString();
  let after: string | undefined;
  let read = 0;
  for (;;) {
    const page = await from.listAcceptedEventIds({ org: options.org, since, limit: pageSize, ...(after !== undefined ? { after } : {}) });
    for (const row of page) ledger.remember(row, Date.parse(row.ingested_at));
    read += page.length;
    if (page.length < pageSize) return read;
    after = page.at(-1)?.event_id;
  }
}
