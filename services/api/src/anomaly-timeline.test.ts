import { anomaly } from '@burnrate/testing';
import { describe, expect, it } from 'vitest';
import { anomalyTimeline, renderTimeline } from './anomaly-timeline.ts';

const v1 = anomaly({
  id: 'a1',
  version: 1,
  severity: 'warning',
  impact_usd: 12,
  projected_usd: 30,
  observed: { value: 37, unit: 'usd' },
  detected_at: '2026-11-27T13:30:00.000Z',
});
const v2 = anomaly({
  id: 'a1',
  version: 2,
  severity: 'critical',
  impact_usd: 80,
  projected_usd: 140,
  observed: { value: 105, unit: 'usd' },
  detected_at: '2026-11-27T14:05:00.000Z',
});
const v3 = anomaly({
  id: 'a1',
  version: 3,
  severity: 'critical',
  impact_usd: 95,
  projected_usd: 0,
  observed: { value: 120, unit: 'usd' },
  detected_at: '2026-11-27T14:40:00.000Z',
});
const v4 = anomaly({
  id: 'a1',
  version: 4,
  severity: 'critical',
  status: 'resolved',
  impact_usd: 95,
  observed: { value: 120, unit: 'usd' },
  detected_at: '2026-11-27T15:10:00.000Z',
});

describe('anomalyTimeline', () => {
  it('puts versions, messages and decisions in one list, oldest first, each saying what happened in money words', () => {
    const entries = anomalyTimeline({
      versions: [v1, v2, v3, v4],
      deliveries: [
        {
          anomaly_id: 'a1',
          version: 1,
          receiver: 'slack:#payments-ai-spend',
          channel: 'slack',
          status: 'sent',
          detail: 'C0PAY:1795788000.000100',
          attempts: 1,
          // The same instant as version 2's detection: the version comes first.
          at: '2026-11-27T14:05:00.000Z',
        },
        {
          anomaly_id: 'a1',
          version: 2,
          receiver: 'email:payments-leads@acme.com',
          channel: 'email',
          status: 'failed',
          detail: 'SMTP deferred (451)',
          attempts: 3,
          at: '2026-11-27T14:06:30.000Z',
        },
        {
          anomaly_id: 'a1',
          version: 3,
          receiver: 'email:payments-leads@acme.com',
          channel: 'email',
          status: 'skipped',
          detail: 'snoozed until 2026-11-27T15:07:00.000Z',
          attempts: 0,
          at: '2026-11-27T14:40:01.000Z',
        },
      ],
      decisions: [
        { anomaly_id: 'a1', action: 'acknowledged', by: 'bob@acme.com', channel: 'slack', at: '2026-11-27T14:06:00.000Z' },
        {
          anomaly_id: 'a1',
          action: 'snoozed',
          by: 'bob@acme.com',
          channel: 'console',
          at: '2026-11-27T14:07:00.000Z',
          snoozed_until: '2026-11-27T15:07:00.000Z',
          note: 'deploy first',
        },
        { anomaly_id: 'a1', action: 'unacknowledged', by: 'dana@acme.com', channel: 'console', at: '2026-11-27T14:30:00.000Z' },
        { anomaly_id: 'a1', action: 'acknowledged', by: 'dana@acme.com', channel: 'console', at: '2026-11-27T14:31:00.000Z' },
        { anomaly_id: 'a1', action: 'unacknowledged', by: 'dana@acme.com', channel: 'console', at: '2026-11-27T14:32:00.000Z' },
        { anomaly_id: 'a1', action: 'resolved', reason: 'real', by: 'dana@acme.com', channel: 'cli', at: '2026-11-27T15:20:00.000Z' },
        {
          anomaly_id: 'a1',
          action: 'unacknowledged',
          by: 'erin@acme.com',
          channel: 'console',
          at: '2026-11-27T15:25:00.000Z',
          note: 'came back',
        },
      ],
    });
    expect(entries.map((e) => [e.at.slice(11, 19), e.kind, e.what, e.detail])).toEqual([
      [
        '13:30:00',
        'version',
        'Version 1 raised (warning)',
        'observed $37; $12 over the warning cap so far; $30 more before the team is likely to look',
      ],
      [
        '14:05:00',
        'version',
        'Version 2 escalated to critical',
        'observed $105; $80 over the warning cap so far; $140 more before the team is likely to look',
      ],
      ['14:05:00', 'delivery', 'Message sent to slack:#payments-ai-spend (version 1)', 'message C0PAY:1795788000.000100'],
      ['14:06:00', 'decision', 'Acknowledged by bob@acme.com (slack)', ''],
      ['14:06:30', 'delivery', 'Message to email:payments-leads@acme.com failed after 3 attempts (version 2)', 'SMTP deferred (451)'],
      ['14:07:00', 'decision', 'Snoozed until 2026-11-27 15:07Z by bob@acme.com (console)', '“deploy first”'],
      ['14:30:00', 'decision', 'Snooze ended early by dana@acme.com (console)', ''],
      ['14:31:00', 'decision', 'Acknowledged by dana@acme.com (console)', ''],
      ['14:32:00', 'decision', 'Unacknowledged by dana@acme.com (console)', ''],
      ['14:40:00', 'version', 'Version 3 grew (still critical)', 'observed $120; $95 over the warning cap so far'],
      ['14:40:01', 'delivery', 'Not sent to email:payments-leads@acme.com (version 3)', 'snoozed until 2026-11-27T15:07:00.000Z'],
      ['15:10:00', 'version', 'Version 4 resolved (critical): the signal went back to normal', 'observed $120; $95 over the warning cap'],
      ['15:20:00', 'decision', 'Resolved as real by dana@acme.com (cli)', ''],
      ['15:25:00', 'decision', 'Reopened by erin@acme.com (console)', '“came back”'],
    ]);
  });

  it('renders an ordered list with every value escaped', () => {
    const evil = '<script>alert(1)</script>';
    const html = renderTimeline(
      anomalyTimeline({
        versions: [v1],
        deliveries: [],
        decisions: [{ anomaly_id: 'a1', action: 'acknowledged', by: evil, channel: 'api', at: '2026-11-27T14:06:00.000Z', note: evil }],
      }),
    );
    expect(html).toMatch(/^<ol class="timeline" id="timeline"><li data-kind="version" data-severity="warning">/);
    expect(html).toContain('<li data-kind="decision"><time datetime="2026-11-27T14:06:00.000Z">2026-11-27 14:06Z</time>');
    expect(html).not.toContain('<script>');
    expect(renderTimeline([])).toBe('<p class="muted">Nothing recorded yet.</p>');
  });
});
