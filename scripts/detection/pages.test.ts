import { createLogger, fixedClock, fixedConfig, parseConfig } from '@burnrate/core';
import { createMemoryChannel } from '@burnrate/notify';
import { createNotifier } from '@burnrate/notifier';
import type { Anomaly } from '@burnrate/schemas';
import { createMemoryStore } from '@burnrate/store';
import { anomaly } from '@burnrate/testing';
import { describe, expect, it } from 'vitest';
import { pagesPerTeam, simulate, teamMessages } from './pages.ts';

const config = parseConfig(
  `
org: acme
teams:
  - id: payments
    members: [alice@acme.com]
    slack: { channel: '#payments-spend' }
  - id: mobile
    members: [bob@acme.com]
    slack: { channel: '#mobile-spend' }
`,
  'test burnrate.yaml',
);

const T0 = Date.parse('2026-11-23T09:00:00Z');
const at = (ms: number): string => new Date(T0 + ms).toISOString();
const MIN = 60_000;

function sessionWarning(i: number, detectedAt: number): Anomaly {
  return anomaly({
    id: `session_cost:acme:dev${i}:sess-${i}`,
    subject: { developer: `dev${i}@acme.com`, session: `sess-${i}` },
    detected_at: at(detectedAt),
  });
}

function cacheDrop(version: number, severity: Anomaly['severity'], status: Anomaly['status'], detectedAt: number): Anomaly {
  return anomaly({
    id: 'cache_efficiency_drop:acme:payments',
    version,
    kind: 'cache_efficiency_drop',
    severity,
    status,
    subject: { developer: undefined, session: undefined, model: undefined },
    impact_usd: 40,
    detected_at: at(detectedAt),
  });
}

describe('teamMessages', () => {
  it('counts a burst of 30 session warnings under an open cache drop as the cache drop’s page only', () => {
    const versions = [
      cacheDrop(1, 'warning', 'open', 0),
      ...Array.from({ length: 30 }, (_, i) => sessionWarning(i, 20 * MIN + i * 7 * MIN)),
    ];
    const messages = teamMessages(versions, config);
    expect(messages.filter((m) => m.page)).toHaveLength(1);
    expect(messages[0]?.items.map((i) => i.kind)).toEqual(['cache_efficiency_drop']);
  });

  it('pages the session warnings once the cache drop is resolved, grouped by team and kind', () => {
    const versions = [
      cacheDrop(1, 'warning', 'open', 0),
      sessionWarning(1, 5 * MIN),
      cacheDrop(2, 'warning', 'resolved', 10 * MIN),
      // After the resolution: three warnings 3 s apart gather into one message (group_wait 10 s).
      sessionWarning(2, 20 * MIN),
      sessionWarning(3, 20 * MIN + 3_000),
      sessionWarning(4, 20 * MIN + 6_000),
    ];
    const messages = teamMessages(versions, config);
    const pages = messages.filter((m) => m.page);
    expect(pages).toHaveLength(2);
    expect(pages[1]?.items.map((i) => i.id)).toEqual([
      'session_cost:acme:dev2:sess-2',
      'session_cost:acme:dev3:sess-3',
      'session_cost:acme:dev4:sess-4',
    ]);
    expect(pages[1]?.at).toBe(T0 + 20 * MIN + 10_000);
    // The resolution note is a message, not a page.
    expect(messages.filter((m) => !m.page)).toHaveLength(1);
  });

  it('holds a group sent to recently until group_interval, and sends an escalation at once', () => {
    const versions = [
      sessionWarning(1, 0),
      sessionWarning(2, 2 * MIN),
      anomaly({ ...sessionWarning(1, 3 * MIN), version: 2, severity: 'critical', impact_usd: 80 }),
    ];
    const messages = teamMessages(versions, config);
    expect(messages.map((m) => [m.at - T0, m.items.map((i) => `${i.id}@${i.version}:${i.reason}`)])).toEqual([
      [10_000, ['session_cost:acme:dev1:sess-1@1:new']],
      [3 * MIN, ['session_cost:acme:dev1:sess-1@2:escalated']],
      [10_000 + 5 * MIN, ['session_cost:acme:dev2:sess-2@1:new']],
    ]);
  });

  it('sends nothing below min_severity and nothing for an impact that grew a little', () => {
    const versions = [
      anomaly({ ...sessionWarning(1, 0), severity: 'info' }),
      sessionWarning(2, MIN),
      anomaly({ ...sessionWarning(2, 30 * MIN), version: 2, impact_usd: 9 }),
    ];
    const pages = teamMessages(versions, config).filter((m) => m.page);
    expect(pages).toHaveLength(1);
    expect(pages[0]?.items[0]?.id).toBe('session_cost:acme:dev2:sess-2');
  });
});

describe('pagesPerTeam', () => {
  it('counts pages per team per week from the period start, with teams that got none', () => {
    const week = 7 * 86_400_000;
    const messages = teamMessages([sessionWarning(1, 0), sessionWarning(2, week + MIN), sessionWarning(3, week + 30 * MIN)], config);
    const teams = pagesPerTeam(messages, ['payments', 'mobile'], T0, 2);
    expect(teams).toEqual([
      { team: 'payments', pages: 3, perWeek: 1.5, worstWeek: 2, resolutionNotes: 0, threadUpdates: 0, byKind: [['session_cost', 3]] },
      { team: 'mobile', pages: 0, perWeek: 0, worstWeek: 0, resolutionNotes: 0, threadUpdates: 0, byKind: [] },
    ]);
  });
});

describe('teamMessages against the notifier itself', () => {
  it('sends the same messages at the same times as createNotifier with a memory store, stepped second by second', async () => {
    const S = 1_000;
    const versions: Anomaly[] = [
      cacheDrop(1, 'warning', 'open', 0),
      ...Array.from({ length: 30 }, (_, i) => sessionWarning(i, MIN + i * 20 * S)),
      cacheDrop(2, 'warning', 'resolved', 15 * MIN),
      sessionWarning(40, 20 * MIN),
      sessionWarning(41, 20 * MIN + 3 * S),
      sessionWarning(42, 20 * MIN + 6 * S),
      anomaly({ ...sessionWarning(1, 22 * MIN), version: 2, severity: 'critical', impact_usd: 80 }),
      spike(1, 5, 24 * MIN),
      spike(2, 30, 26 * MIN),
      spike(3, 31, 27 * MIN),
    ];
    const expected = teamMessages(versions, config).map((m) => [m.at - T0, m.items.map((i) => `${i.id}@${i.version}`).sort()]);

    const slack = createMemoryChannel('slack');
    const clock = fixedClock(new Date(T0));
    const notifier = createNotifier({
      config: fixedConfig(config),
      store: createMemoryStore(),
      channels: { slack },
      log: createLogger({ level: 'silent' }),
      clock,
      retry: { sleep: async () => {}, random: () => 0 },
      dispatchEveryMs: 0,
      minGapMs: {},
    });
    const actual: [number, string[]][] = [];
    for (let t = 0; t <= 40 * MIN; t += S) {
      clock.set(new Date(T0 + t));
      const now = versions.filter((v) => Date.parse(v.detected_at) === T0 + t);
      if (now.length > 0) await notifier.handleAnomalies(now);
      const before = slack.sent.length;
      await notifier.dispatch();
      for (const n of slack.sent.slice(before)) actual.push([t, (n.group ?? [n.anomaly]).map((a) => `${a.id}@${a.version}`).sort()]);
    }
    expect(actual).toEqual(expected);
    // The cache drop; its resolution; the burst after it; dev1's critical, which makes the cache
    // drop's incident critical (dev1's warning had joined it): a reply at once, shown in the channel.
    expect(expected.map(([t]) => t)).toEqual([10 * S, 15 * MIN + 10 * S, 20 * MIN + 10 * S, 22 * MIN]);
    // The 30 session warnings joined the cache drop's incident, and the spike followed from dev1's
    // critical session in it (v1, and v2 which grew 6x; v3 grew too little to be news): recorded
    // against the incident's message, which was brought up to date instead of 32 messages being sent.
    const { attachments } = simulate(versions, config);
    expect(attachments.map((a) => `${a.id}@${a.version}`)).toEqual([
      ...Array.from({ length: 30 }, (_, i) => `session_cost:acme:dev${i}:sess-${i}@1`),
      'spend_spike:acme:payments@1',
      'spend_spike:acme:payments@2',
    ]);
    expect(new Set(attachments.map((a) => a.message))).toEqual(new Set([0]));
    expect(slack.updates.length).toBeGreaterThan(0);
    const view = slack.updates.at(-1)?.notification;
    expect(view?.anomaly.kind).toBe('cache_efficiency_drop');
    expect(view?.group).toHaveLength(32);
  });
});

function spike(version: number, impact: number, detectedAt: number): Anomaly {
  return anomaly({
    id: 'spend_spike:acme:payments',
    version,
    kind: 'spend_spike',
    subject: { developer: undefined, session: undefined, model: undefined },
    impact_usd: impact,
    detected_at: at(detectedAt),
  });
}

describe('thread updates', () => {
  it('counts an episode’s growth on Slack as a quiet thread update, and sends email none of it', () => {
    const both = parseConfig(
      `
org: acme
teams:
  - id: payments
    slack: { channel: '#payments-spend' }
    email: [leads@acme.com]
`,
      'test burnrate.yaml',
    );
    const messages = teamMessages([spike(1, 20, 0), spike(2, 60, 30 * MIN), spike(3, 200, 60 * MIN)], both);
    expect(messages.map((m) => [m.receiver, m.items[0]?.reason, m.page, m.threadUpdate])).toEqual([
      ['slack:#payments-spend', 'new', true, false],
      ['email:leads@acme.com', 'new', true, false],
      ['slack:#payments-spend', 'grown', false, true],
      ['slack:#payments-spend', 'grown', false, true],
    ]);
    expect(pagesPerTeam(messages, ['payments'], T0, 1)[0]).toMatchObject({ pages: 1, threadUpdates: 2 });
  });
});
