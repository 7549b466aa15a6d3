import type { Anomaly } from '@burnrate/schemas';

/** What a replay over a backfill window found that is news. */
export interface HistoricalFindings {
  /** Versions to publish, marked historical: episode by episode, each one's versions in order. */
  anomalies: Anomaly[];
  /** Episodes of the window that live detection had raised already (by id, or the same kind and subject at overlapping times). */
  alreadyLive: number;
  /** Episodes of the window with new versions: what the backfill found. */
  found: number;
}

interface Episode {
  versions: Anomaly[];
  start: number;
  end: number;
}

/**
 * The anomalies a replay over a backfill window reports, as historical: episodes whose time
 * overlaps the span of the late events (the warmup before it and the follow-through after it
 * re-raise what live detection judged, or was never told about), less those live detection
 * raised itself. Live ones are matched by id (deterministic from kind, subject and episode start)
 * and, because the late events may move an episode's start, by kind and subject at overlapping
 * times. An episode an earlier backfill stored gets only its versions past the stored one, so
 * judging a window twice (a restart, overlapping imports) publishes nothing twice.
 *
 * `stored` is the latest version of every stored anomaly the replay could have raised again.
 */
export function historicalFindings(
  replayed: readonly Anomaly[],
  span: { from: number; to: number },
  stored: readonly Anomaly[],
): HistoricalFindings {
  const episodes = new Map<string, Episode>();
  for (const a of replayed) {
    const start = Date.parse(a.window.start);
    const end = Date.parse(a.window.end);
    const known = episodes.get(a.id);
    if (known === undefined) episodes.set(a.id, { versions: [a], start, end });
    else {
      known.versions.push(a);
      known.start = Math.min(known.start, start);
      known.end = Math.max(known.end, end);
    }
  }

  const storedById = new Map(stored.map((a) => [a.id, a]));
  const liveBySubject = new Map<string, { start: number; end: number }[]>();
  for (const a of stored) {
    if (a.historical === true) continue;
    const key = subjectKey(a);
    const times = liveBySubject.get(key) ?? [];
    times.push({ start: Date.parse(a.window.start), end: Date.parse(a.window.end) });
    liveBySubject.set(key, times);
  }

  const findings: HistoricalFindings = { anomalies: [], alreadyLive: 0, found: 0 };
  for (const [id, episode] of episodes) {
    if (episode.start > span.to || episode.end < span.from) continue;
    const same = storedById.get(id);
    const first = episode.versions[0] as Anomaly;
    const raisedLive =
      (same !== undefined && same.historical !== true) ||
      (liveBySubject.get(subjectKey(first)) ?? []).some((t) => t.start <= episode.end && t.end >= episode.start);
    if (raisedLive) {
      findings.alreadyLive += 1;
      continue;
    }
    const after = same?.version ?? 0;
    const news = episode.versions.filter((v) => v.version > after);
    if (news.length === 0) continue;
    findings.found += 1;
    for (const v of news) findings.anomalies.push({ ...v, historical: true });
  }
  return findings;
}

/** Kind and subject, whatever order the subject's fields were written in. */
const subjectKey = (a: Anomaly): string =>
  JSON.stringify([a.kind, a.subject.org, a.subject.team, a.subject.developer ?? null, a.subject.session ?? null, a.subject.model ?? null]);
