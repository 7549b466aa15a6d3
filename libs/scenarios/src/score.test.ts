import type { Anomaly } from '@burnrate/schemas';
import { anomaly as buildAnomaly } from '@burnrate/testing/builders';
import { describe, expect, it } from 'vitest';
import type { ScenarioLabels } from './labels.ts';
import { evaluate } from './score.ts';

const H = 3_600_000;
const T0 = Date.parse('2026-11-06T14:00:00Z');
const at = (hours: number): string => new Date(T0 + hours * H).toISOString();

const labels: ScenarioLabels = {
  seed: 1,
  org: 'acme',
  period: { from: at(-24 * 14), to: at(24 * 7) },
  weeks: 3,
  teams: ['payments', 'platform'],
  incidents: [
    {
      id: 'loop/runaway_session',
      story: 'loop',
      kind: 'runaway_session',
      subject: { org: 'acme', team: 'payments', developer: 'a@acme.com', session: 's1' },
      also_accept: [],
      story_start: at(0),
      start: at(2),
      end: at(60),
      within_ms: 30 * 60_000,
      note: '',
    },
    {
      id: 'drift/model_mix_drift',
      story: 'drift',
      kind: 'model_mix_drift',
      subject: { org: 'acme', team: 'platform' },
      also_accept: [],
      story_start: at(100),
      start: at(100),
      end: at(150),
      within_ms: 30 * 60_000,
      note: '',
    },
  ],
  decoys: [{ id: 'holiday', subject: { org: 'acme', team: 'platform' }, from: at(-48), to: at(-24), note: '' }],
};

let n = 0;
/** An anomaly of `kind` detected `hours` after T0, for exactly `subject` (scoring matches on it). */
function anomaly(
  kind: Anomaly['kind'],
  subject: Anomaly['subject'],
  hours: number,
  severity: Anomaly['severity'],
  id = `id-${n++}`,
  version = 1,
): Anomaly {
  const built = buildAnomaly({
    id,
    version,
    kind,
    severity,
    window: { start: at(hours), end: at(hours) },
    summary: `${kind} on ${subject.team}`,
    detected_at: at(hours),
  });
  // The builder merges into its default subject (a developer's session); scoring must see only this one.
  return { ...built, subject };
}

const loopSubject = { org: 'acme', team: 'payments', developer: 'a@acme.com', session: 's1' };

describe('evaluate', () => {
  it('detects an incident by its first page of the right kind and scope, and times it from the onset', () => {
    const e = evaluate(
      [
        anomaly('runaway_session', loopSubject, 2.1, 'info', 'r'),
        anomaly('runaway_session', loopSubject, 2.25, 'warning', 'r', 2),
        // Right kind, wrong scope: a developer-level drift is not the team-level drift.
        anomaly('model_mix_drift', { org: 'acme', team: 'platform', developer: 'b@acme.com' }, 100.2, 'warning'),
      ],
      labels,
    );
    const [loop, drift] = e.incidents;
    expect(loop).toMatchObject({ detected: true, severity: 'warning', ttd_ms: 0.25 * H, on_time: true, anomaly_id: 'r' });
    expect(drift).toMatchObject({ detected: false, info_only: false, on_time: null });
    expect(e.targets.find((t) => t.name === 'every incident detected')?.pass).toBe(false);
  });

  it('explains pages on an incident subject, counts the rest per team and week, and fails loud decoys', () => {
    const e = evaluate(
      [
        anomaly('runaway_session', loopSubject, 2.2, 'warning'),
        // The loop's developer and team spend spikes too: explained by the loop.
        anomaly('spend_spike', { org: 'acme', team: 'payments', developer: 'a@acme.com' }, 20, 'warning'),
        anomaly('spend_spike', { org: 'acme', team: 'payments' }, 30, 'critical'),
        // Another developer of the team, outside any incident: a false page.
        anomaly('spend_spike', { org: 'acme', team: 'payments', developer: 'c@acme.com' }, -100, 'warning'),
        // Budget stays explained until the month ends.
        anomaly('budget_forecast', { org: 'acme', team: 'payments' }, 24 * 10, 'warning'),
        anomaly('model_mix_drift', { org: 'acme', team: 'platform' }, 100.4, 'warning'),
        // On the holiday decoy.
        anomaly('spend_spike', { org: 'acme', team: 'platform' }, -30, 'warning'),
        anomaly('spend_spike', { org: 'acme', team: 'platform' }, -40, 'info'),
      ],
      labels,
    );
    expect(e.teams).toEqual([
      { team: 'payments', pages: 5, false_pages: 1, per_week: 1 / 3, ok: true },
      { team: 'platform', pages: 2, false_pages: 1, per_week: 1 / 3, ok: true },
    ]);
    expect(e.decoys[0]).toMatchObject({ id: 'holiday', max_severity: 'warning', ok: false });
    expect(e.decoys[0]?.anomalies).toHaveLength(2);
    expect(e.incidents.every((i) => i.detected && i.on_time)).toBe(true);
    expect(e.targets.map((t) => t.pass)).toEqual([true, true, true, false]);
    expect(e.pass).toBe(false);
  });

  it('fails a decoy on what opens or pages inside its window, not on the resolution of an episode from before it', () => {
    const platform = { org: 'acme', team: 'platform' };
    const e = evaluate(
      [
        anomaly('runaway_session', loopSubject, 2.2, 'warning'),
        // The month that went over budget before the holiday closes on its first day.
        anomaly('budget_forecast', platform, -100, 'critical', 'march'),
        { ...anomaly('budget_forecast', platform, -40, 'critical', 'march', 2), status: 'resolved' },
      ],
      labels,
    );
    expect(e.decoys[0]).toMatchObject({ id: 'holiday', max_severity: 'none', ok: true });
  });

  it('counts an episode already paging when the story begins as detecting it at the onset, not one resolved before', () => {
    const platform = { org: 'acme', team: 'platform' };
    const open = evaluate(
      [anomaly('runaway_session', loopSubject, 2.2, 'warning'), anomaly('model_mix_drift', platform, 90, 'warning', 'early')],
      labels,
    );
    expect(open.incidents[1]).toMatchObject({ detected: true, ttd_ms: 0, severity: 'warning', paging_since: at(90) });
    const resolved = evaluate(
      [
        anomaly('runaway_session', loopSubject, 2.2, 'warning'),
        anomaly('model_mix_drift', platform, 90, 'warning', 'gone'),
        { ...anomaly('model_mix_drift', platform, 95, 'warning', 'gone', 2), status: 'resolved' },
      ],
      labels,
    );
    expect(resolved.incidents[1]).toMatchObject({ detected: false, paging_since: null });
  });
});
