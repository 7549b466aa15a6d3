import type { Anomaly } from '@burnrate/schemas';

/**
 * What /healthz says about Claude Code sessions whose metrics counted more than their request
 * events (lost_events anomalies, see @burnrate/detection's lost-events.ts): log records lost on
 * the way to Burnrate. Information for whoever runs the receiver, never a failure: the process
 * is fine, the path in front of it dropped exports.
 */
export interface LostEventsHealth {
  /** Sessions reported since this process started. */
  sessions: number;
  /** Their missing cost (USD, to the cent), each session at its latest version. */
  usd: number;
  /** The latest version published. */
  last: { org: string; developer: string | null; session: string | null; at: string; usd: number } | null;
}

export interface LostEventsTally {
  /** Counts an anomaly the detector published; anomalies of other kinds are ignored. */
  note(a: Anomaly): void;
  health(): LostEventsHealth;
}

// A few numbers per session reported; past this the oldest are forgotten, and a later version
// of one of those counts its session again (a receiver that lost this many needs no exact figure).
const REMEMBERED = 10_000;

export function createLostEventsTally(): LostEventsTally {
  // [version, missing cost] by anomaly id at its latest version: a version replaces its
  // predecessor's figure, and one published again (a partition replaying from its snapshot)
  // changes nothing.
  const byId = new Map<string, [version: number, usd: number]>();
  let sessions = 0;
  let usd = 0;
  let last: LostEventsHealth['last'] = null;
  return {
    note(a) {
      if (a.kind !== 'lost_events') return;
      const before = byId.get(a.id);
      if (before !== undefined && before[0] >= a.version) return;
      if (before === undefined) {
        sessions += 1;
        if (byId.size >= REMEMBERED) byId.delete(byId.keys().next().value as string);
      }
      byId.set(a.id, [a.version, a.impact_usd]);
      usd += a.impact_usd - (before?.[1] ?? 0);
      if (last === null || a.detected_at >= last.at) {
        last = {
          org: a.subject.org,
          developer: a.subject.developer ?? null,
          session: a.subject.session ?? null,
          at: a.detected_at,
          usd: cents(a.impact_usd),
        };
      }
    },
    health: () => ({ sessions, usd: cents(usd), last }),
  };
}

/** Several threads' tallies as one: counts added, the latest report kept. */
export function combineLostEvents(all: readonly LostEventsHealth[]): LostEventsHealth {
  const combined: LostEventsHealth = { sessions: 0, usd: 0, last: null };
  for (const h of all) {
    combined.sessions += h.sessions;
    combined.usd += h.usd;
    if (h.last !== null && (combined.last === null || h.last.at > combined.last.at)) combined.last = h.last;
  }
  combined.usd = cents(combined.usd);
  return combined;
}

const cents = (usd: number): number => Math.round(usd * 100) / 100;
