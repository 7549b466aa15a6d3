import type { Batch, BatchContext } from '@burnrate/bus';
import { createLogger, fixedClock, fixedConfig, parseConfig } from '@burnrate/core';
import { createMemoryChannel, type MemoryChannel } from '@burnrate/notify';
import type { Anomaly, AnomalyState } from '@burnrate/schemas';
import { createMemoryStore } from '@burnrate/store';
import { anomaly } from '@burnrate/testing/builders';
import { beforeEach, describe, expect, it } from 'vitest';
import { createNotifier, type NotifierDeps } from './notifier.ts';

// 2026-11-27 is a Friday; 14:06 UTC is 15:06 in Berlin, inside working hours.
const T0 = new Date('2026-11-27T14:06:00Z');
const SECOND = 1_000;
const MINUTE = 60 * SECOND;

const yaml = (routes = '') =>
  parseConfig(`
org: acme
timezone: Europe/Berlin
teams:
  - id: payments
    slack: { channel: "#payments-ai-spend" }
    oncall: { slack: { channel: "#payments-oncall" } }
  - id: search
    slack: { channel: "#search-ai-spend" }
finops: { email: [finops@acme.com] }
${routes}
`);

const log = createLogger({ level: 'silent' });

/** A session anomaly of its own developer and session. */
const session = (i: number, overrides: Parameters<typeof anomaly>[0] = {}): Anomaly =>
  anomaly({ id: `session_cost:s${i}`, subject: { developer: `dev${i}@acme.com`, session: `sess-${i}` }, ...overrides });

describe('the outbox dispatcher', () => {
  let store: ReturnType<typeof createMemoryStore>;
  let slack: MemoryChannel;
  let email: MemoryChannel;
  let clock: ReturnType<typeof fixedClock>;
  const notifier = (overrides: Partial<NotifierDeps> = {}) =>
    createNotifier({
      config: fixedConfig(yaml()),
      store,
      channels: { slack, email },
      log,
      clock,
      retry: { sleep: async () => {}, random: () => 0 },
      dispatchEveryMs: 0,
      minGapMs: {},
      ...overrides,
    });
  const decide = (s: Partial<AnomalyState> & Pick<AnomalyState, 'anomaly_id' | 'action'>): Promise<void> =>
    store.insertAnomalyStates([{ by: 'alice@acme.com', channel: 'slack', at: clock.now().toISOString(), ...s }]);
  const slackTo = (channel: string) => slack.sent.filter((n) => n.to[0] === channel);

  beforeEach(() => {
    clock = fixedClock(T0);
    store = createMemoryStore();
    slack = createMemoryChannel('slack');
    email = createMemoryChannel('email');
  });

  describe('grouping', () => {
    it('sends a burst of 30 session anomalies of one team as one message, after group_wait', async () => {
      const n = notifier();
      for (let i = 0; i < 30; i++) {
        await n.handleAnomalies([session(i)]);
        clock.advance(300);
      }
      // 9 s in: the group still waits.
      expect(await n.dispatch()).toMatchObject({ messages: 0 });
      clock.set(new Date(T0.getTime() + 10 * SECOND));
      expect(await n.dispatch()).toMatchObject({ messages: 1, carried: 30 });
      expect(slack.sent).toHaveLength(1);
      expect(slack.sent[0]?.group).toHaveLength(30);
      // One message id on every member, so one Acknowledge finds them all.
      const sent = await store.listDeliveries({ status: 'sent', detail: 'slack-1' });
      expect(new Set(sent.map((d) => d.anomaly_id)).size).toBe(30);
    });

    it('holds the next one of the group for group_interval after a message', async () => {
      const n = notifier();
      await n.handleAnomalies([session(1), session(2)]);
      clock.advance(10 * SECOND);
      await n.dispatch();
      clock.advance(20 * SECOND);
      await n.handleAnomalies([session(3)]);
      clock.advance(1 * MINUTE);
      expect(await n.dispatch()).toMatchObject({ messages: 0 });
      clock.set(new Date(T0.getTime() + 10 * SECOND + 5 * MINUTE));
      expect(await n.dispatch()).toMatchObject({ messages: 1, carried: 1 });
      expect(slack.sent.map((s) => s.group?.length ?? 1)).toEqual([2, 1]);
    });

    it('keeps other teams and other kinds in their own groups', async () => {
      const n = notifier();
      await n.handleAnomalies([
        session(1),
        session(2),
        session(3, { subject: { team: 'search' } }),
        session(4, { kind: 'context_bloat', id: 'context_bloat:s4' }),
      ]);
      clock.advance(10 * SECOND);
      expect(await n.dispatch()).toMatchObject({ messages: 3, carried: 4 });
      expect(slackTo('#search-ai-spend')).toHaveLength(1);
    });

    it('with group_by [anomaly], sends every anomaly on its own', async () => {
      const n = notifier({ config: fixedConfig(yaml('routes: { group_by: [anomaly] }')) });
      await n.handleAnomalies(Array.from({ length: 30 }, (_, i) => session(i)));
      clock.advance(10 * SECOND);
      expect(await n.dispatch()).toMatchObject({ messages: 30 });
    });

    it('sends a severity escalation at once, as a reply in the thread of the first message, broadcast when critical', async () => {
      const n = notifier();
      const v1 = session(1);
      await n.handleAnomalies([v1]);
      clock.advance(10 * SECOND);
      await n.dispatch();
      await n.handleAnomalies([{ ...v1, version: 2, severity: 'critical', impact_usd: 90 }]);
      expect(await n.dispatch()).toMatchObject({ messages: 1 });
      expect(slack.sent[1]).toMatchObject({ reason: 'escalated', thread: { parentId: 'slack-1', broadcast: true } });
      // The first message shows the episode as it is now.
      expect(slack.updates.map((u) => [u.id, u.notification.anomaly.version])).toEqual([['slack-1', 2]]);
    });
  });

  describe('escalation', () => {
    const critical = session(1, { severity: 'critical', impact_usd: 120 });

    it('goes to on-call after escalate_after and to FinOps after a second interval when nobody acknowledges', async () => {
      const n = notifier();
      await n.handleAnomalies([critical]);
      clock.advance(10 * SECOND);
      await n.dispatch();
      expect(slackTo('#payments-ai-spend')).toHaveLength(1);

      clock.advance(29 * MINUTE);
      expect(await n.dispatch()).toMatchObject({ messages: 0 });
      clock.advance(1 * MINUTE);
      expect(await n.dispatch()).toMatchObject({ messages: 1 });
      expect(slackTo('#payments-oncall')).toMatchObject([{ escalation: { to: 'oncall' }, anomaly: { id: critical.id } }]);
      expect(slackTo('#payments-oncall')[0]?.escalation?.unacknowledgedForMs).toBe(31 * MINUTE + 10 * SECOND); // detected at 14:05

      clock.advance(30 * MINUTE);
      expect(await n.dispatch()).toMatchObject({ messages: 1 });
      expect(email.sent).toMatchObject([{ to: ['finops@acme.com'], escalation: { to: 'finops' } }]);
    });

    it('stops when the anomaly is acknowledged', async () => {
      const n = notifier();
      await n.handleAnomalies([critical]);
      clock.advance(10 * SECOND);
      await n.dispatch();
      clock.advance(5 * MINUTE);
      await decide({ anomaly_id: critical.id, action: 'acknowledged' });
      clock.advance(2 * 60 * MINUTE);
      expect(await n.dispatch()).toMatchObject({ messages: 0, cancelled: 2 });
      expect(slackTo('#payments-oncall')).toEqual([]);
      expect(email.sent).toEqual([]);
      expect((await store.listOutbox({ anomaly_id: critical.id, status: 'cancelled' })).map((e) => e.detail)).toEqual([
        'no escalation: acknowledged by alice@acme.com',
        'no escalation: acknowledged by alice@acme.com',
      ]);
    });

    it('waits for working hours before it reaches FinOps at night', async () => {
      // Friday 22:00 in Berlin: on-call at 22:30, FinOps on Monday at 09:00.
      clock.set(new Date('2026-11-27T21:00:00Z'));
      const n = notifier();
      await n.handleAnomalies([{ ...critical, detected_at: '2026-11-27T21:00:00.000Z' }]);
      clock.advance(10 * SECOND);
      await n.dispatch();
      const [oncall, finops] = (await store.listOutbox({ anomaly_id: critical.id })).filter((e) => e.purpose === 'escalate');
      expect(oncall?.due_at).toBe('2026-11-27T21:30:10.000Z');
      expect(finops?.due_at).toBe('2026-11-30T08:00:00.000Z');
    });

    it('does not escalate a warning', async () => {
      const n = notifier();
      await n.handleAnomalies([session(1)]);
      clock.advance(10 * SECOND);
      await n.dispatch();
      clock.advance(3 * 60 * MINUTE);
      await n.dispatch();
      expect(slack.sent).toHaveLength(1);
      expect(email.sent).toEqual([]);
    });
  });

  describe('inhibition', () => {
    const cacheDrop = anomaly({
      id: 'cache_efficiency_drop:payments',
      kind: 'cache_efficiency_drop',
      severity: 'warning',
      subject: { team: 'payments', developer: undefined, session: undefined, model: undefined },
    });

    it('keeps session warnings of a team with an open team-level cache drop from being sent, and records why', async () => {
      const n = notifier();
      await n.handleAnomalies([cacheDrop, session(1), session(2)]);
      clock.advance(10 * SECOND);
      expect(await n.dispatch()).toMatchObject({ messages: 1, skipped: 2 });
      expect(slack.sent.map((s) => s.anomaly.kind)).toEqual(['cache_efficiency_drop']);
      expect(await store.listDeliveries({ anomaly_id: session(1).id })).toMatchObject([
        { status: 'skipped', detail: `inhibited by ${cacheDrop.id} (cache_efficiency_drop, warning)` },
      ]);
    });

    it('sends the session warnings of another team, and those of a team whose cache drop ended', async () => {
      const n = notifier();
      await n.handleAnomalies([
        cacheDrop,
        { ...cacheDrop, version: 2, status: 'resolved' },
        session(1),
        session(2, { subject: { team: 'search' } }),
      ]);
      clock.advance(10 * SECOND);
      await n.dispatch();
      expect(slack.sent.filter((s) => s.anomaly.kind === 'session_cost')).toHaveLength(2);
    });

    it('keeps a lesser anomaly of a session with an open critical from being sent', async () => {
      const n = notifier({ config: fixedConfig(yaml('routes: { group_by: [anomaly] }')) });
      const bloat = anomaly({ id: 'context_bloat:s1', kind: 'context_bloat', severity: 'warning' });
      const costly = anomaly({ id: 'session_cost:s1', severity: 'critical' });
      await n.handleAnomalies([bloat, costly]);
      clock.advance(10 * SECOND);
      await n.dispatch();
      expect(slack.sent.map((s) => s.anomaly.id)).toEqual(['session_cost:s1']);
    });

    it('lets no historical anomaly inhibit: an open cache drop a backfill found is about the past', async () => {
      const n = notifier();
      const found = { ...cacheDrop, historical: true as const };
      // Stored by the sink, and read by the notifier too: neither way does it hold a live warning back.
      await store.insertAnomalies([found]);
      await n.handleAnomalies([found, session(1)]);
      clock.advance(10 * SECOND);
      expect(await n.dispatch()).toMatchObject({ messages: 1, skipped: 0 });
      expect(slack.sent.map((s) => s.anomaly.id)).toEqual([session(1).id]);
    });

    describe('a version whose send began before a restart, inhibited since', () => {
      const receiver = 'slack:#payments-ai-spend';
      const pendingAt = new Date(T0.getTime() - MINUTE).toISOString();
      const restartedAfter = async (channel: MemoryChannel, delivered: boolean) => {
        if (delivered) await channel.send({ anomaly: session(1), reason: 'new', to: ['#payments-ai-spend'], receiver });
        await store.insertDeliveries([
          {
            anomaly_id: session(1).id,
            version: 1,
            receiver,
            channel: 'slack',
            status: 'pending',
            detail: 'attempt 1',
            attempts: 0,
            at: pendingAt,
          },
        ]);
        const n = notifier({ channels: { slack: channel, email } });
        await n.handleAnomalies([cacheDrop, session(1)]);
        clock.advance(10 * SECOND);
        await n.dispatch();
        return (await store.listDeliveries({ anomaly_id: session(1).id })).find((d) => d.receiver === receiver);
      };

      it('records it as sent when the channel has it, and posts nothing again', async () => {
        expect(await restartedAfter(slack, true)).toMatchObject({ status: 'sent', detail: 'slack-1' });
        expect(slack.sent.map((s) => s.anomaly.id)).toEqual([session(1).id, cacheDrop.id]);
      });

      it('records it as inhibited when the channel says the attempt did not get through', async () => {
        expect(await restartedAfter(slack, false)).toMatchObject({
          status: 'skipped',
          detail: `inhibited by ${cacheDrop.id} (cache_efficiency_drop, warning)`,
        });
        expect(slack.reconciles).toBe(1);
        expect(slack.sent.map((s) => s.anomaly.id)).toEqual([cacheDrop.id]);
      });

      it('sends it again when the channel cannot be asked, rather than logging as unsent what may have arrived', async () => {
        const webhookLike = createMemoryChannel('slack', { reconcile: false });
        expect(await restartedAfter(webhookLike, true)).toMatchObject({ status: 'sent' });
        expect(webhookLike.sent.map((s) => s.anomaly.id)).toEqual([session(1).id, session(1).id, cacheDrop.id]);
      });
    });

    it('inhibits nothing with `inhibit: []`', async () => {
      const n = notifier({ config: fixedConfig(yaml('inhibit: []')) });
      await n.handleAnomalies([cacheDrop, session(1)]);
      clock.advance(10 * SECOND);
      expect(await n.dispatch()).toMatchObject({ messages: 2 });
    });
  });

  describe('silences', () => {
    const silences = async () => [
      { id: 'sil-1', comment: 'load test', matches: (a: Anomaly) => a.subject.team === 'payments' && a.kind === 'session_cost' },
    ];

    it('records a matching anomaly as silenced and sends nothing', async () => {
      const n = notifier({ silences });
      await n.handleAnomalies([session(1)]);
      clock.advance(10 * SECOND);
      expect(await n.dispatch()).toMatchObject({ messages: 0, skipped: 1 });
      expect(await store.listDeliveries({ anomaly_id: session(1).id })).toMatchObject([
        { status: 'skipped', detail: 'silenced by sil-1: load test' },
      ]);
    });

    it('sends what no silence matches', async () => {
      const n = notifier({ silences });
      await n.handleAnomalies([session(1, { subject: { team: 'search' } })]);
      clock.advance(10 * SECOND);
      expect(await n.dispatch()).toMatchObject({ messages: 1 });
    });
  });

  describe('snooze', () => {
    const v1 = session(1, { impact_usd: 6 });

    async function snoozedFor1h() {
      const n = notifier();
      await n.handleAnomalies([v1]);
      clock.advance(10 * SECOND);
      await n.dispatch();
      await decide({ anomaly_id: v1.id, action: 'snoozed', snoozed_until: new Date(clock.now().getTime() + 60 * MINUTE).toISOString() });
      clock.advance(10 * MINUTE);
      return n;
    }

    it('holds what happens while snoozed and tells when the snooze ends if it got worse', async () => {
      const n = await snoozedFor1h();
      await n.handleAnomalies([{ ...v1, version: 2, impact_usd: 40 }]);
      clock.advance(5 * MINUTE);
      expect(await n.dispatch()).toMatchObject({ messages: 0, held: 1 });
      clock.advance(45 * MINUTE + 10 * SECOND);
      expect(await n.dispatch()).toMatchObject({ messages: 1 });
      expect(slack.sent[1]).toMatchObject({ reason: 'snooze_ended', anomaly: { version: 2 }, thread: { parentId: 'slack-1' } });
    });

    it('stays quiet at the end of a snooze when it did not get worse', async () => {
      const n = await snoozedFor1h();
      await n.handleAnomalies([{ ...v1, version: 2, impact_usd: 7 }]);
      clock.advance(60 * MINUTE);
      await n.dispatch();
      expect(slack.sent).toHaveLength(1);
    });
  });

  describe('reminders', () => {
    it('brings an open, unacknowledged anomaly up again in its thread every repeat_interval', async () => {
      const n = notifier();
      const v1 = session(1);
      await n.handleAnomalies([v1]);
      clock.advance(10 * SECOND);
      await n.dispatch();
      clock.advance(4 * 60 * MINUTE);
      expect(await n.dispatch()).toMatchObject({ messages: 1 });
      expect(slack.sent[1]).toMatchObject({ reason: 'reminder', thread: { parentId: 'slack-1', broadcast: false } });
      // The reminder leaves the delivery log as it was: the first message stays the thread's parent.
      expect((await store.listDeliveries({ anomaly_id: v1.id })).map((d) => [d.status, d.detail])).toEqual([['sent', 'slack-1']]);
      clock.advance(4 * 60 * MINUTE);
      expect(await n.dispatch()).toMatchObject({ messages: 1 });
    });

    it('stops once the anomaly is acknowledged, or its episode ended', async () => {
      const n = notifier();
      const [a, b] = [session(1), session(2, { kind: 'context_bloat', id: 'context_bloat:s2' })];
      await n.handleAnomalies([a, b]);
      clock.advance(10 * SECOND);
      await n.dispatch();
      await decide({ anomaly_id: a.id, action: 'acknowledged' });
      await n.handleAnomalies([{ ...b, version: 2, status: 'resolved' }]);
      clock.advance(4 * 60 * MINUTE + 10 * SECOND);
      await n.dispatch();
      expect(slack.sent.map((s) => s.reason)).toEqual(['new', 'new', 'resolved']);
      expect((await store.listOutbox({ status: 'cancelled' })).map((e) => e.detail).sort()).toEqual([
        'no reminder: acknowledged by alice@acme.com',
        'no reminder: the episode ended',
      ]);
    });
  });

  describe('decisions on anomaly-state.v1', () => {
    const ctx: BatchContext = { commit: async () => {}, signal: new AbortController().signal };
    const stateBatch = (states: AnomalyState[]): Batch => ({
      topic: 'anomaly-state.v1',
      partition: 0,
      highWatermark: String(states.length),
      messages: states.map((s, i) => ({
        topic: 'anomaly-state.v1',
        partition: 0,
        offset: String(i),
        key: s.anomaly_id,
        value: JSON.stringify(s),
        headers: {},
        timestamp: 0,
      })),
    });

    it('updates the first message of the anomaly in place with who acknowledged, the same on a redelivery', async () => {
      const n = notifier();
      const v1 = session(1);
      await n.handleAnomalies([v1, session(2)]);
      clock.advance(10 * SECOND);
      await n.dispatch();
      const ack: AnomalyState = {
        anomaly_id: v1.id,
        action: 'acknowledged',
        by: 'alice@acme.com',
        channel: 'slack',
        at: clock.now().toISOString(),
      };
      await store.insertAnomalyStates([ack]);
      await n.handleStateBatch(stateBatch([ack]), ctx);
      await n.handleStateBatch(stateBatch([ack]), ctx);
      expect(slack.sent).toHaveLength(1);
      expect(slack.updates).toHaveLength(2);
      const [first, again] = slack.updates;
      expect(first?.id).toBe('slack-1');
      expect(first?.notification.group).toHaveLength(2);
      expect(first?.notification.lifecycle).toMatchObject({ state: 'acknowledged', acknowledged: { by: 'alice@acme.com' } });
      expect(again?.notification).toEqual(first?.notification);
    });

    it('leaves channels that cannot change a message alone', async () => {
      const noEdit = createMemoryChannel('slack', { update: false });
      const n = notifier({ channels: { slack: noEdit, email } });
      const v1 = session(1);
      await n.handleAnomalies([v1]);
      clock.advance(10 * SECOND);
      await n.dispatch();
      const ack: AnomalyState = {
        anomaly_id: v1.id,
        action: 'acknowledged',
        by: 'a@acme.com',
        channel: 'api',
        at: clock.now().toISOString(),
      };
      await expect(n.handleStateBatch(stateBatch([ack]), ctx)).resolves.toBeUndefined();
    });
  });
});

describe('incidents', () => {
  const config = parseConfig(`
org: acme
timezone: Europe/Berlin
teams:
  - id: payments
    slack: { channel: "#payments-ai-spend" }
    email: [payments-leads@acme.com]
`);
  let store: ReturnType<typeof createMemoryStore>;
  let slack: MemoryChannel;
  let email: MemoryChannel;
  let clock: ReturnType<typeof fixedClock>;
  const cacheDrop = (overrides: Parameters<typeof anomaly>[0] = {}): Anomaly =>
    anomaly({
      id: 'cache_efficiency_drop:payments',
      kind: 'cache_efficiency_drop',
      subject: { developer: undefined, session: undefined, model: undefined },
      impact_usd: 40,
      ...overrides,
    });
  const start = () =>
    createNotifier({
      config: fixedConfig(config),
      store,
      channels: { slack, email },
      log,
      clock,
      retry: { sleep: async () => {}, random: () => 0 },
      dispatchEveryMs: 0,
      minGapMs: {},
    });
  const after = async (n: ReturnType<typeof start>, ms: number) => {
    clock.advance(ms);
    return n.dispatch();
  };

  beforeEach(() => {
    clock = fixedClock(T0);
    store = createMemoryStore();
    slack = createMemoryChannel('slack');
    email = createMemoryChannel('email');
  });

  it('records the session costs that follow a broken cache against its message, which lists them, cause first', async () => {
    const n = start();
    await n.handleAnomalies([cacheDrop()]);
    expect(await after(n, 10 * SECOND)).toMatchObject({ messages: 2 });
    for (let i = 0; i < 12; i++) {
      await n.handleAnomalies([session(i)]);
      clock.advance(20 * SECOND);
    }
    // Due after group_wait, the warnings join the incident: no message of their own anywhere.
    expect(await after(n, 10 * SECOND)).toMatchObject({ messages: 0, attached: 24 });
    expect(slack.sent).toHaveLength(1);
    expect(email.sent).toHaveLength(1);
    // The Slack message now shows the incident: the cache drop first, then its 12 members.
    const view = slack.updates.at(-1);
    expect(view?.id).toBe('slack-1');
    expect(view?.notification.anomaly.kind).toBe('cache_efficiency_drop');
    expect(view?.notification.group).toHaveLength(13);
    // Every member is recorded against the incident's message: its "Acknowledge all" finds them all.
    const carried = await store.listDeliveries({ status: 'sent', detail: 'slack-1' });
    expect(new Set(carried.map((d) => d.anomaly_id)).size).toBe(13);
  });

  it('pages once more when a member makes the incident critical, in its thread and in the channel; not for a second critical', async () => {
    const n = start();
    await n.handleAnomalies([cacheDrop()]);
    await after(n, 10 * SECOND);
    await n.handleAnomalies([session(1), session(2)]);
    await after(n, 10 * SECOND);
    await n.handleAnomalies([session(1, { version: 2, severity: 'critical', impact_usd: 80 })]);
    await after(n, SECOND);
    expect(slack.sent).toHaveLength(2);
    expect(slack.sent[1]).toMatchObject({
      anomaly: { id: 'session_cost:s1', version: 2 },
      thread: { parentId: 'slack-1', broadcast: true },
    });
    expect(email.sent).toHaveLength(2);
    // Recorded against the incident's message too, so it stays one incident to acknowledge.
    expect((await store.listDeliveries({ anomaly_id: 'session_cost:s1', status: 'sent' })).map((d) => d.detail)).toContain('slack-1');

    await n.handleAnomalies([session(2, { version: 2, severity: 'critical', impact_usd: 90 })]);
    expect(await after(n, SECOND)).toMatchObject({ messages: 0, attached: 2 });
    expect(slack.sent).toHaveLength(2);
    expect(email.sent).toHaveLength(2);
  });

  it('keeps an agent loop its own incident while the cache is broken', async () => {
    const n = start();
    await n.handleAnomalies([cacheDrop()]);
    await after(n, 10 * SECOND);
    await n.handleAnomalies([session(7, { id: 'runaway_session:s7', kind: 'runaway_session', severity: 'critical' })]);
    await after(n, 10 * SECOND);
    expect(slack.sent.map((m) => [m.anomaly.kind, m.thread?.parentId])).toEqual([
      ['cache_efficiency_drop', undefined],
      ['runaway_session', undefined],
    ]);
  });

  it('sends an episode’s growth as a quiet Slack reply and not by email, where every message pages', async () => {
    const n = start();
    await n.handleAnomalies([cacheDrop()]);
    await after(n, 10 * SECOND);
    await n.handleAnomalies([cacheDrop({ version: 2, impact_usd: 120 })]);
    await after(n, 5 * MINUTE);
    expect(slack.sent.map((m) => [m.reason, m.thread])).toEqual([
      ['new', undefined],
      ['grown', { parentId: 'slack-1', broadcast: false }],
    ]);
    expect(email.sent.map((m) => m.reason)).toEqual(['new']);
    const skipped = await store.listDeliveries({ anomaly_id: 'cache_efficiency_drop:payments', status: 'skipped' });
    expect(skipped.map((d) => d.detail)).toEqual(['grew to $120 at warning: this channel is sent only what pages']);
  });
});
