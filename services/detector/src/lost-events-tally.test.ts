import { anomaly } from '@burnrate/testing/builders';
import { describe, expect, it } from 'vitest';
import { combineLostEvents, createLostEventsTally } from './lost-events-tally.ts';

const lost = (id: string, version: number, usd: number, at: string, session = id) =>
  anomaly({ id, version, kind: 'lost_events', severity: 'info', impact_usd: usd, detected_at: at, subject: { session } });

describe('lost events on /healthz', () => {
  it('counts each session once at its latest figure, whatever order its versions come in', () => {
    const tally = createLostEventsTally();
    expect(tally.health()).toEqual({ sessions: 0, usd: 0, last: null });
    tally.note(lost('a', 1, 1.5, '2026-11-25T10:05:00.000Z'));
    tally.note(lost('b', 1, 0.75, '2026-11-25T10:06:00.000Z'));
    tally.note(lost('a', 2, 3.25, '2026-11-25T10:09:00.000Z'));
    // A partition replaying from its snapshot publishes v1 again.
    tally.note(lost('a', 1, 1.5, '2026-11-25T10:05:00.000Z'));
    tally.note(anomaly({ impact_usd: 40 }));
    expect(tally.health()).toEqual({
      sessions: 2,
      usd: 4,
      last: { org: 'acme', developer: 'alice@acme.com', session: 'a', at: '2026-11-25T10:09:00.000Z', usd: 3.25 },
    });
  });

  it('adds up several threads and keeps the latest report', () => {
    const one = createLostEventsTally();
    const two = createLostEventsTally();
    one.note(lost('a', 1, 1, '2026-11-25T10:05:00.000Z'));
    two.note(lost('b', 1, 2.5, '2026-11-25T11:00:00.000Z'));
    expect(combineLostEvents([one.health(), two.health(), createLostEventsTally().health()])).toEqual({
      sessions: 2,
      usd: 3.5,
      last: { org: 'acme', developer: 'alice@acme.com', session: 'b', at: '2026-11-25T11:00:00.000Z', usd: 2.5 },
    });
  });
});
