import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Anomaly, AnomalyState, DlqRecord, Silence, UsageEvent } from '@burnrate/schemas';
import type { OutboxEntry, SpendDimension, SpendReportRow, Store } from '../src/port.ts';
import { anomaly, anomalyState, delivery, dlqRecord, fullUsageEvent, usageEvent } from './fixtures.ts';
import { reportBucket } from '@burnrate/testing/builders';
import { seededRandom } from '@burnrate/testing/seeded-random';

/**
 * One body of behaviour every Store must show: the memory twin (unit), chdb and the server
 * adapter (integration) all run it. Each test scopes its rows by a unique org / id / source, so
 * the suite can share one store and even a server database that holds other data.
 */
export function describeStoreContract(name: string, open: () => Promise<Store>, options: { skip?: boolean } = {}): void {
  describe.skipIf(options.skip === true)(`Store contract: ${name}`, () => {
    let store: Store;
    const unique = (prefix: string): string => `${prefix}-${randomUUID().slice(0, 8)}`;

    beforeAll(async () => {
      store = await open();
      await store.migrate();
    });
    afterAll(async () => {
      await store?.close();
    });

    describe('usage events', () => {
      it('round-trips every field of an event exactly, optional fields present or absent', async () => {
        const org = unique('org');
        const full = UsageEvent.parse(fullUsageEvent({ org, event_id: unique('full') }));
        const minimal = UsageEvent.parse(usageEvent({ org, event_id: unique('min'), occurred_at: '2026-03-02T10:16:00.000Z' }));
        await store.insertUsageEvents([full, minimal]);
        const listed = await store.listUsageEvents({ org });
        expect(listed).toEqual([full, minimal]);
        expect('session_id' in (listed[1] ?? {})).toBe(false);
        expect(UsageEvent.parse(listed[0])).toEqual(full);
      });

      it('lists the ids and fingerprints accepted since an instant, in id order, a page at a time', async () => {
        const org = unique('org');
        const at = (h: number) => `2026-03-02T${String(h).padStart(2, '0')}:00:00.000Z`;
        await store.insertUsageEvents([
          usageEvent({ org, event_id: 'c', fingerprint: 'fc', ingested_at: at(12) }),
          usageEvent({ org, event_id: 'a', fingerprint: 'fa', ingested_at: at(11) }),
          usageEvent({ org, event_id: 'b', ingested_at: at(10) }),
          usageEvent({ org, event_id: 'old', fingerprint: 'fo', ingested_at: at(1) }),
          usageEvent({ org: unique('other'), event_id: 'z', ingested_at: at(12) }),
        ]);
        const first = await store.listAcceptedEventIds({ org, since: at(10), limit: 2 });
        expect(first).toEqual([
          { event_id: 'a', fingerprint: 'fa', ingested_at: at(11) },
          // Stored before fingerprints existed, or by a producer that sets none.
          { event_id: 'b', fingerprint: '', ingested_at: at(10) },
        ]);
        expect(await store.listAcceptedEventIds({ org, since: at(10), after: 'b', limit: 2 })).toEqual([
          { event_id: 'c', fingerprint: 'fc', ingested_at: at(12) },
        ]);
      });

      it('counts a batch inserted twice once, and does not double its spend', async () => {
        const org = unique('org');
        const batch = Array.from({ length: 50 }, (_, i) =>
          usageEvent({ org, event_id: `e-${i}`, occurred_at: `2026-03-02T10:${String(i).padStart(2, '0')}:00.000Z`, cost_usd: 0.5 }),
        );
        await store.insertUsageEvents(batch);
        await store.insertUsageEvents(batch);
        // The same events again in a different batch shape (which a retry token would not catch).
        await store.insertUsageEvents([...batch].reverse().slice(0, 20));
        expect(await store.countUsageEvents({ org })).toBe(50);
        expect(await store.listUsageEvents({ org })).toHaveLength(50);
        const spend = await store.spendByHour({ org });
        expect(spend).toHaveLength(1);
        expect(spend[0]?.events).toBe(50);
        expect(spend[0]?.cost_usd).toBeCloseTo(25, 9);
        expect(spend[0]?.input_tokens).toBe(50 * 1200);
      });

      it('keeps the latest ingested revision of an event, in the list and in spend', async () => {
        const org = unique('org');
        const first = usageEvent({ org, event_id: 'bucket', cost_usd: 1, ingested_at: '2026-03-02T11:00:00.000Z' });
        const revised = usageEvent({ org, event_id: 'bucket', cost_usd: 3, ingested_at: '2026-03-02T12:00:00.000Z' });
        await store.insertUsageEvents([revised]);
        await store.insertUsageEvents([first]);
        expect((await store.listUsageEvents({ org })).map((e) => e.cost_usd)).toEqual([3]);
        expect((await store.spendByHour({ org }))[0]?.cost_usd).toBe(3);
      });

      it('filters counts by org and session', async () => {
        const org = unique('org');
        await store.insertUsageEvents([
          usageEvent({ org, event_id: 'a', session_id: 's1' }),
          usageEvent({ org, event_id: 'b', session_id: 's1' }),
          usageEvent({ org, event_id: 'c', session_id: 's2' }),
          usageEvent({ org, event_id: 'd' }),
        ]);
        expect(await store.countUsageEvents({ org })).toBe(4);
        expect(await store.countUsageEvents({ org, session_id: 's1' })).toBe(2);
        expect(await store.countUsageEvents({ org, session_id: 'nope' })).toBe(0);
        expect(await store.countUsageEvents({ org: unique('other') })).toBe(0);
      });

      it('lists in event-time order within [from, to) and pages with a keyset cursor', async () => {
        const org = unique('org');
        const at = (m: number): string => `2026-03-02T10:${String(m).padStart(2, '0')}:00.000Z`;
        // Two events share an instant so the event_id tie-break is exercised.
        const events = [
          usageEvent({ org, event_id: 'e3', occurred_at: at(3) }),
          usageEvent({ org, event_id: 'e1b', occurred_at: at(1) }),
          usageEvent({ org, event_id: 'e1a', occurred_at: at(1) }),
          usageEvent({ org, event_id: 'e0', occurred_at: at(0) }),
          usageEvent({ org, event_id: 'e5', occurred_at: at(5) }),
        ];
        await store.insertUsageEvents(events);
        const ids = async (q: Parameters<Store['listUsageEvents']>[0]): Promise<string[]> =>
          (await store.listUsageEvents({ org, ...q })).map((e) => e.event_id);
        expect(await ids({})).toEqual(['e0', 'e1a', 'e1b', 'e3', 'e5']);
        expect(await ids({ from: at(1), to: at(5) })).toEqual(['e1a', 'e1b', 'e3']);
        expect(await ids({ limit: 2 })).toEqual(['e0', 'e1a']);
        expect(await ids({ limit: 2, after: { occurred_at: at(1), event_id: 'e1a' } })).toEqual(['e1b', 'e3']);
        // Offsets other than Z are normalised before comparison.
        expect(await ids({ from: '2026-03-02T11:03:00+01:00' })).toEqual(['e3', 'e5']);
      });

      it('rolls spend up by hour, org, team, developer, model and tool', async () => {
        const org = unique('org');
        await store.insertUsageEvents([
          usageEvent({ org, event_id: '1', occurred_at: '2026-03-02T10:05:00.000Z', cost_usd: 1, output_tokens: 10 }),
          usageEvent({ org, event_id: '2', occurred_at: '2026-03-02T10:55:00.000Z', cost_usd: 2, output_tokens: 20 }),
          usageEvent({ org, event_id: '3', occurred_at: '2026-03-02T11:00:00.000Z', cost_usd: 4 }),
          usageEvent({ org, event_id: '4', occurred_at: '2026-03-02T10:30:00.000Z', cost_usd: 8, model: 'gpt-5', tool: 'api' }),
          usageEvent({
            org,
            event_id: '5',
            occurred_at: '2026-03-02T10:30:00.000Z',
            cost_usd: 16,
            team: 'research',
            developer: 'carol@acme.com',
          }),
        ]);
        const rows = await store.spendByHour({ org });
        expect(rows.map((r) => [r.hour, r.team, r.developer, r.model, r.tool, r.cost_usd, r.events])).toEqual([
          ['2026-03-02T10:00:00.000Z', 'payments', 'alice@acme.com', 'claude-opus-4-5', 'claude-code', 3, 2],
          ['2026-03-02T10:00:00.000Z', 'payments', 'alice@acme.com', 'gpt-5', 'api', 8, 1],
          ['2026-03-02T10:00:00.000Z', 'research', 'carol@acme.com', 'claude-opus-4-5', 'claude-code', 16, 1],
          ['2026-03-02T11:00:00.000Z', 'payments', 'alice@acme.com', 'claude-opus-4-5', 'claude-code', 4, 1],
        ]);
        expect(rows[0]).toMatchObject({ org, input_tokens: 2400, output_tokens: 30, cache_read_tokens: 100_000, cache_write_tokens: 0 });
        const research = await store.spendByHour({ org, team: 'research' });
        expect(research.map((r) => r.cost_usd)).toEqual([16]);
        const later = await store.spendByHour({ org, from: '2026-03-02T11:00:00.000Z', to: '2026-03-02T12:00:00.000Z' });
        expect(later.map((r) => r.cost_usd)).toEqual([4]);
      });

      it('reconciles live and reported spend per day: the best report counts, each dollar once, the delta per team', async () => {
        const org = unique('org');
        const live = (id: string, at: string, cost: number, team = 'payments', provider = 'anthropic') =>
          usageEvent({ org, event_id: id, occurred_at: at, cost_usd: cost, team, provider });
        const report = (id: string, source: string, day: string, cost: number, team = 'payments', provider = 'anthropic') =>
          reportBucket(source, day, cost, { org, event_id: id, provider, team });
        await store.insertUsageEvents([
          live('o1', '2026-03-02T10:00:00.000Z', 30),
          live('o2', '2026-03-02T15:00:00.000Z', 12.5),
          live('o3', '2026-03-02T16:00:00.000Z', 7.5, 'research'),
          // The cost report (invoice figures) and the usage report count the same day again.
          report('c1', 'anthropic_cost_report', '2026-03-02', 46),
          report('c2', 'anthropic_cost_report', '2026-03-02', 9, 'unattributed'),
          report('u1', 'anthropic_usage_report', '2026-03-02', 44),
          // The next day no report covers yet: live counts.
          live('o4', '2026-03-03T09:00:00.000Z', 5),
          // Another provider, reported only.
          report('x1', 'openai_costs', '2026-03-02', 3, 'payments', 'openai'),
          // Copilot's seat-licensed activity ($0) and its premium-request billing: the billing counts.
          report('g1', 'copilot_metrics', '2026-03-02', 0, 'payments', 'github'),
          report('g2', 'copilot_premium', '2026-03-02', 2.3, 'payments', 'github'),
          // Cursor's money is its request-level events; its daily usage data ($0 activity) never replaces it.
          live('k1', '2026-03-02T11:00:00.000Z', 1.25, 'payments', 'cursor'),
          report('k2', 'cursor_daily', '2026-03-02', 0, 'payments', 'cursor'),
        ]);
        const rows = await store.reconciliation({ org });
        const brief = rows.map((r) => [r.day, r.provider, r.team, r.live_usd, r.report_usd, r.report_source, r.counted_usd, r.delta_usd]);
        expect(brief).toEqual([
          ['2026-03-02', 'anthropic', 'payments', 42.5, 46, 'anthropic_cost_report', 46, 3.5],
          ['2026-03-02', 'anthropic', 'research', 7.5, 0, 'anthropic_cost_report', 0, -7.5],
          ['2026-03-02', 'anthropic', 'unattributed', 0, 9, 'anthropic_cost_report', 9, 9],
          ['2026-03-02', 'cursor', 'payments', 1.25, 0, null, 1.25, 0],
          ['2026-03-02', 'github', 'payments', 0, 2.3, 'copilot_premium', 2.3, 2.3],
          ['2026-03-02', 'openai', 'payments', 0, 3, 'openai_costs', 3, 3],
          ['2026-03-03', 'anthropic', 'payments', 5, 0, null, 5, 0],
        ]);
        // Counted once: the 2nd's Anthropic total is the cost report's, not live + both reports.
        const counted = rows.filter((r) => r.day === '2026-03-02' && r.provider === 'anthropic').reduce((n, r) => n + r.counted_usd, 0);
        expect(counted).toBe(55);
        expect(rows[0]).toMatchObject({ live_events: 2, report_buckets: 1 });
        // A team's rows keep the org's choice of report; the window is [from, to).
        expect((await store.reconciliation({ org, team: 'research' })).map((r) => r.report_source)).toEqual(['anthropic_cost_report']);
        expect((await store.reconciliation({ org, from: '2026-03-03T00:00:00.000Z' })).map((r) => r.day)).toEqual(['2026-03-03']);
        expect(await store.reconciliation({ org, to: '2026-03-02T00:00:00.000Z' })).toEqual([]);

        // What the budget forecast is told: per team, the reports' figure against what detection counted.
        const corrections = await store.spendCorrections({ org, from: '2026-03-01T00:00:00.000Z' });
        expect(corrections.map((c) => [c.day, c.team, c.counted_usd, c.judged_usd, c.sources])).toEqual([
          // Anthropic live (covered: the reports were not judged) and the other providers' reports (judged, nothing live).
          ['2026-03-02', 'payments', 51.3, 47.8, ['anthropic_cost_report', 'copilot_premium', 'openai_costs']],
          // Live spend the cost report puts elsewhere.
          ['2026-03-02', 'research', 0, 7.5, []],
          ['2026-03-02', 'unattributed', 9, 0, ['anthropic_cost_report']],
        ]);
        expect(await store.spendCorrections({ org, from: '2026-03-03T00:00:00.000Z' })).toEqual([]);
      });

      it('tells detection where it judged two reports of one provider that count once', async () => {
        const org = unique('org');
        const report = (id: string, source: string, day: string, cost: number) =>
          reportBucket(source, day, cost, { org, event_id: id, team: 'payments' });
        const live = (id: string, at: string, cost: number) => usageEvent({ org, event_id: id, occurred_at: at, cost_usd: cost });
        await store.insertUsageEvents([
          // Admin keys only on the 10th: both reports were judged, the cost report counts.
          report('c1', 'anthropic_cost_report', '2026-04-10', 20),
          report('u1', 'anthropic_usage_report', '2026-04-10', 19),
          // A live feed from the 12th: the 13th's and 19th's reports are covered (within a week of it).
          live('l1', '2026-04-12T09:00:00.000Z', 4),
          report('c2', 'anthropic_cost_report', '2026-04-13', 6),
          report('c3', 'anthropic_cost_report', '2026-04-19', 1),
          // The 27th: the feed has been silent for over a week, the report is judged again.
          report('c4', 'anthropic_cost_report', '2026-04-27', 2),
        ]);
        const corrections = await store.spendCorrections({ org, from: '2026-04-01T00:00:00.000Z' });
        expect(corrections.map((c) => [c.day, c.counted_usd, c.judged_usd])).toEqual([
          ['2026-04-10', 20, 39],
          ['2026-04-13', 6, 0],
          ['2026-04-19', 1, 0],
          ['2026-04-27', 2, 2],
        ]);
      });

      describe('spend views', () => {
        it('totals equal the stored events for random slices, groupings and filters, before and after a refresh', async () => {
          const org = unique('org');
          const next = seededRandom(20261208);
          const pick = <T>(xs: readonly T[]): T => xs[Math.floor(next() * xs.length)] as T;
          const teams = ['payments', 'research', 'mobile'];
          const models = ['claude-opus-4-5', 'claude-sonnet-4-5', 'gpt-5'];
          const developers = ['alice@acme.com', 'bob@acme.com', 'carol@acme.com', 'dan@acme.com'];
          const start = Date.parse('2026-05-04T00:00:00.000Z');
          const HOUR = 3_600_000;
          const events: UsageEvent[] = [];
          for (let i = 0; i < 400; i++) {
            const model = pick(models);
            events.push(
              usageEvent({
                org,
                event_id: `p${i}`,
                occurred_at: new Date(start + Math.floor(next() * 6 * 24) * HOUR + Math.floor(next() * HOUR)).toISOString(),
                team: pick(teams),
                developer: pick(developers),
                model,
                provider: model.startsWith('gpt') ? 'openai' : 'anthropic',
                tool: pick(['claude_code', 'api']),
                session_id: `s${Math.floor(next() * 30)}`,
                cost_usd: Math.round(next() * 5000) / 100,
              }),
            );
          }
          // The Anthropic cost report covers days 2 and 4: on those days it counts instead of the live Anthropic events.
          const reported = ['2026-05-05', '2026-05-07'];
          for (const [i, day] of reported.entries())
            for (const team of teams)
              events.push(reportBucket('anthropic_cost_report', day, 40 + 10 * i, { org, event_id: `r${day}${team}`, team }));
          await store.insertUsageEvents(events);

          const counts = (e: UsageEvent): boolean =>
            e.provider === 'anthropic' && reported.includes(e.occurred_at.slice(0, 10))
              ? e.source === 'anthropic_cost_report'
              : e.granularity === 'request';
          const dims = ['team', 'model', 'developer', 'tool', 'provider'] as const;
          const check = async (round: string): Promise<void> => {
            for (let c = 0; c < 12; c++) {
              const a = Math.floor(next() * 6 * 24);
              const b = a + 1 + Math.floor(next() * (6 * 24 - a));
              const from = new Date(start + a * HOUR).toISOString();
              const to = new Date(start + b * HOUR).toISOString();
              const group_by = dims.filter(() => next() < 0.3);
              const filterDim = next() < 0.5 ? pick(dims) : undefined;
              const filterValue = filterDim === undefined ? undefined : pick(events)[filterDim];
              const filter = filterDim === undefined ? {} : { [filterDim]: filterValue };
              const rows = await store.spend({ org, from, to, granularity: pick(['hour', 'day', 'month'] as const), group_by, filter });
              const expected = events.filter(
                (e) =>
                  e.occurred_at >= from && e.occurred_at < to && counts(e) && (filterDim === undefined || e[filterDim] === filterValue),
              );
              const label = `${round} slice ${c}: ${from} – ${to} by [${group_by.join(',')}] where ${JSON.stringify(filter)}`;
              expect(
                rows.reduce((n, r) => n + r.cost_usd, 0),
                label,
              ).toBeCloseTo(
                expected.reduce((n, e) => n + e.cost_usd, 0),
                6,
              );
              expect(
                rows.reduce((n, r) => n + r.events, 0),
                label,
              ).toBe(expected.length);
            }
          };
          await check('unsealed');
          await store.refreshSpendRollup({ settleMs: 0, maxHours: 100_000 });
          await check('sealed');
        });

        // Live per-request spend for two teams, Anthropic's cost report covering 03-02 (and its
        // usage report counting the same day again), a day no report covers yet, reports of other
        // providers and Cursor's $0 activity beside its live money: reconciliation's case.
        const seed = async (org: string): Promise<void> => {
          const live = (id: string, at: string, cost: number, more: Partial<UsageEvent> = {}) =>
            usageEvent({ org, event_id: id, occurred_at: at, cost_usd: cost, provider: 'anthropic', ...more });
          const report = (id: string, source: string, day: string, cost: number, more: Partial<UsageEvent> = {}) =>
            usageEvent({
              org,
              event_id: id,
              source,
              provider: 'anthropic',
              granularity: '1d',
              period_start: `${day}T00:00:00.000Z`,
              period_end: new Date(Date.parse(`${day}T00:00:00.000Z`) + 86_400_000).toISOString(),
              occurred_at: `${day}T00:00:00.000Z`,
              developer: 'workspace:default',
              cost_usd: cost,
              ...more,
            });
          await store.insertUsageEvents([
            live('o1', '2026-03-02T10:00:00.000Z', 30, { session_id: 's1' }),
            live('o2', '2026-03-02T15:00:00.000Z', 12.5, { session_id: 's2', model: 'claude-sonnet-4-5' }),
            live('o3', '2026-03-02T16:00:00.000Z', 7.5, { session_id: 's3', team: 'research', developer: 'carol@acme.com' }),
            report('c1', 'anthropic_cost_report', '2026-03-02', 46),
            report('c2', 'anthropic_cost_report', '2026-03-02', 9, { team: 'unattributed' }),
            report('u1', 'anthropic_usage_report', '2026-03-02', 44),
            live('o4', '2026-03-03T09:00:00.000Z', 5, { session_id: 's1' }),
            report('x1', 'openai_costs', '2026-03-02', 3, { provider: 'openai', model: 'gpt-5' }),
            live('k1', '2026-03-02T11:00:00.000Z', 1.25, { provider: 'cursor', tool: 'cursor', session_id: 'k' }),
            report('k2', 'cursor_daily', '2026-03-02', 0, { provider: 'cursor', tool: 'cursor' }),
          ]);
        };
        const month = { from: '2026-03-01T00:00:00.000Z', to: '2026-04-01T00:00:00.000Z' };
        const brief = (rows: SpendReportRow[], dims: readonly SpendDimension[]) =>
          rows.map((r) => [r.period.slice(0, 13), ...dims.map((d) => r[d]), r.cost_usd]);

        it('counts each day, provider and team once: the report where one covers it, else the live feed', async () => {
          const org = unique('org');
          await seed(org);
          const byTeam = await store.spend({ org, ...month, granularity: 'day', group_by: ['team'] });
          expect(brief(byTeam, ['team'])).toEqual([
            ['2026-03-02T00', 'payments', 50.25],
            ['2026-03-02T00', 'unattributed', 9],
            ['2026-03-03T00', 'payments', 5],
          ]);
          // The same figures reconciliation counts.
          const counted = (await store.reconciliation({ org })).reduce((n, r) => n + r.counted_usd, 0);
          expect(byTeam.reduce((n, r) => n + r.cost_usd, 0)).toBeCloseTo(counted, 9);
          expect(byTeam[0]).toMatchObject({ events: 3, input_tokens: 3 * 1200 });
          const byProvider = await store.spend({ org, ...month, granularity: 'month', group_by: ['provider', 'model'] });
          expect(brief(byProvider, ['provider', 'model'])).toEqual([
            ['2026-03-01T00', 'anthropic', 'claude-opus-4-5', 60],
            ['2026-03-01T00', 'cursor', 'claude-opus-4-5', 1.25],
            ['2026-03-01T00', 'openai', 'gpt-5', 3],
          ]);
          const hourly = await store.spend({ org, ...month, granularity: 'hour', group_by: [], filter: { team: 'payments' } });
          expect(brief(hourly, [])).toEqual([
            ['2026-03-02T00', 49],
            ['2026-03-02T11', 1.25],
            ['2026-03-03T09', 5],
          ]);
          // The report is chosen for the whole day: a range starting mid-day does not count the live
          // spend the report replaces, so adjacent ranges add up to the day.
          const [morning, rest] = await Promise.all([
            store.spend({ org, from: '2026-03-02T00:00:00.000Z', to: '2026-03-02T06:00:00.000Z', granularity: 'day', group_by: [] }),
            store.spend({ org, from: '2026-03-02T06:00:00.000Z', to: '2026-03-03T00:00:00.000Z', granularity: 'day', group_by: [] }),
          ]);
          expect([morning[0]?.cost_usd, rest[0]?.cost_usd]).toEqual([58, 1.25]);
          expect(
            await store.spend({ org, ...month, granularity: 'day', group_by: ['developer'], filter: { developer: 'carol@acme.com' } }),
          ).toEqual([]);
        });

        it('ranks developers by counted spend and sessions by their live spend', async () => {
          const org = unique('org');
          await seed(org);
          const developers = await store.spendTop({ org, ...month, by: 'developer' });
          expect(developers.map((r) => [r.key, r.cost_usd, r.teams])).toEqual([
            ['workspace:default', 58, ['payments', 'unattributed']],
            ['alice@acme.com', 6.25, ['payments']],
          ]);
          const sessions = await store.spendTop({ org, ...month, by: 'session', limit: 3 });
          expect(sessions.map((r) => [r.key, r.developer, r.cost_usd, r.first_hour, r.last_hour])).toEqual([
            ['s1', 'alice@acme.com', 35, '2026-03-02T10:00:00.000Z', '2026-03-03T09:00:00.000Z'],
            ['s2', 'alice@acme.com', 12.5, '2026-03-02T15:00:00.000Z', '2026-03-02T15:00:00.000Z'],
            ['s3', 'carol@acme.com', 7.5, '2026-03-02T16:00:00.000Z', '2026-03-02T16:00:00.000Z'],
          ]);
          expect(sessions[0]?.models).toEqual(['claude-opus-4-5']);
          const research = await store.spendTop({ org, ...month, by: 'session', filter: { team: 'research' } });
          expect(research.map((r) => r.key)).toEqual(['s3']);
        });

        it('gives the same figures from the rollup as from the events, and an hour revised after its seal counts its revision', async () => {
          const org = unique('org');
          await seed(org);
          const query = { org, ...month, granularity: 'hour', group_by: ['team', 'model', 'developer', 'tool', 'provider'] } as const;
          const before = await store.spend(query);
          const topBefore = await store.spendTop({ org, ...month, by: 'session' });
          await store.refreshSpendRollup({ settleMs: 0, maxHours: 100_000 });
          expect(await store.spend(query)).toEqual(before);
          expect(await store.spendTop({ org, ...month, by: 'session' })).toEqual(topBefore);
          // A provider revises its bucket, a duplicate of a live event arrives, and a late report
          // covers 03-03: read at once (before any refresh), each counts as it should.
          await store.insertUsageEvents([
            usageEvent({
              org,
              event_id: 'c1',
              source: 'anthropic_cost_report',
              provider: 'anthropic',
              granularity: '1d',
              period_start: '2026-03-02T00:00:00.000Z',
              period_end: '2026-03-03T00:00:00.000Z',
              occurred_at: '2026-03-02T00:00:00.000Z',
              developer: 'workspace:default',
              cost_usd: 50,
              ingested_at: '2026-03-04T00:00:00.000Z',
            }),
            usageEvent({
              org,
              event_id: 'o4',
              occurred_at: '2026-03-03T09:00:00.000Z',
              cost_usd: 5,
              provider: 'anthropic',
              session_id: 's1',
            }),
            usageEvent({
              org,
              event_id: 'c3',
              source: 'anthropic_cost_report',
              provider: 'anthropic',
              granularity: '1d',
              period_start: '2026-03-03T00:00:00.000Z',
              period_end: '2026-03-04T00:00:00.000Z',
              occurred_at: '2026-03-03T00:00:00.000Z',
              developer: 'workspace:default',
              cost_usd: 6,
            }),
          ]);
          const expected = [
            ['2026-03-02T00', 'payments', 54.25],
            ['2026-03-02T00', 'unattributed', 9],
            ['2026-03-03T00', 'payments', 6],
          ];
          expect(brief(await store.spend({ org, ...month, granularity: 'day', group_by: ['team'] }), ['team'])).toEqual(expected);
          await store.refreshSpendRollup({ settleMs: 0, maxHours: 100_000 });
          expect(brief(await store.spend({ org, ...month, granularity: 'day', group_by: ['team'] }), ['team'])).toEqual(expected);
        });

        it('gives the same developer figures from whole days as from the events, before and after a refresh and a revision', async () => {
          const org = unique('org');
          await seed(org);
          // Day and month periods over whole days and a range that starts mid-day (its first day
          // read by the hour), grouped and filtered by developer, and the top developers.
          const views = () =>
            Promise.all([
              store.spend({ org, ...month, granularity: 'day', group_by: ['developer', 'team'] }),
              store.spend({ org, ...month, granularity: 'month', group_by: ['developer', 'model'], filter: { team: 'payments' } }),
              store.spend({
                org,
                from: '2026-03-02T10:30:00.000Z',
                to: '2026-03-04T00:00:00.000Z',
                granularity: 'day',
                group_by: ['provider'],
                filter: { developer: 'alice@acme.com' },
              }),
              store.spendTop({ org, ...month, by: 'developer' }),
            ]);
          const before = await views();
          await store.refreshSpendRollup({ settleMs: 0, maxHours: 100_000 });
          expect(await views()).toEqual(before);
          // Alice's 03-03 event is revised after its day was sealed, and Carol spends later that day.
          await store.insertUsageEvents([
            usageEvent({
              org,
              event_id: 'o4',
              occurred_at: '2026-03-03T09:00:00.000Z',
              cost_usd: 8,
              provider: 'anthropic',
              session_id: 's1',
              ingested_at: '2026-03-05T00:00:00.000Z',
            }),
            usageEvent({
              org,
              event_id: 'o5',
              occurred_at: '2026-03-03T17:00:00.000Z',
              cost_usd: 4,
              provider: 'anthropic',
              session_id: 's4',
              team: 'research',
              developer: 'carol@acme.com',
            }),
          ]);
          const revised = await views();
          expect(revised[3].map((r) => [r.key, r.cost_usd, r.first_hour, r.last_hour])).toEqual([
            ['workspace:default', 58, '2026-03-02T00:00:00.000Z', '2026-03-02T00:00:00.000Z'],
            ['alice@acme.com', 9.25, '2026-03-02T11:00:00.000Z', '2026-03-03T09:00:00.000Z'],
            ['carol@acme.com', 4, '2026-03-03T17:00:00.000Z', '2026-03-03T17:00:00.000Z'],
          ]);
          expect(brief(revised[2], ['provider'])).toEqual([
            ['2026-03-02T00', 'cursor', 1.25],
            ['2026-03-03T00', 'anthropic', 8],
          ]);
          await store.refreshSpendRollup({ settleMs: 0, maxHours: 100_000 });
          expect(await views()).toEqual(revised);
        });

        it('leaves hours that changed within the settle time to the events', async () => {
          const org = unique('org');
          await store.insertUsageEvents([usageEvent({ org, event_id: 'a', cost_usd: 2 })]);
          // Nothing of this org is due yet: its change is seconds old.
          await store.refreshSpendRollup({ settleMs: 3_600_000 });
          expect((await store.spend({ org, ...month, granularity: 'day', group_by: [] }))[0]?.cost_usd).toBe(2);
        });
      });

      it('treats values as data, never as SQL', async () => {
        const org = `${unique('org')}' OR 1=1 --`;
        await store.insertUsageEvents([usageEvent({ org, event_id: "x'); DROP TABLE usage_events_v1; --" })]);
        expect(await store.countUsageEvents({ org })).toBe(1);
        expect(await store.countUsageEvents({ org: "' OR 1=1 --" })).toBe(0);
        expect((await store.listUsageEvents({ org }))[0]?.event_id).toBe("x'); DROP TABLE usage_events_v1; --");
      });

      it('refuses a row holding a lone UTF-16 surrogate with a non-retriable error naming the table, and writes none of its block', async () => {
        const org = unique('org');
        const good = usageEvent({ org, event_id: unique('good') });
        const bad = usageEvent({ org, event_id: unique('bad'), developer: 'mallory\ud800' });
        const refused = await store.insertUsageEvents([good, bad]).then(
          () => undefined,
          (err: unknown) => err,
        );
        expect(refused).toMatchObject({ name: 'BurnrateError', code: 'STORE_QUERY_FAILED', retriable: false });
        expect((refused as Error).message).toMatch(/usage_events_v1.*surrogate/s);
        expect(await store.countUsageEvents({ org })).toBe(0);
        await store.insertUsageEvents([good]);
        expect(await store.countUsageEvents({ org })).toBe(1);
      });

      it('accepts an empty batch', async () => {
        await store.insertUsageEvents([]);
        await store.insertDlq([]);
        await store.insertAnomalies([]);
        await store.insertAnomalyStates([]);
        await store.insertDeliveries([]);
        expect(await store.latestAnomalyStates([])).toEqual(new Map());
      });
    });

    describe('dlq', () => {
      it('round-trips records, collapses redeliveries, lists newest first by source', async () => {
        const source = unique('src');
        const older = DlqRecord.parse(dlqRecord({ source, dlq_id: 'd1', received_at: '2026-03-02T10:00:00.000Z', index: 0 }));
        const newer = DlqRecord.parse(
          dlqRecord({ source, dlq_id: 'd2', received_at: '2026-03-02T10:01:00.000Z', raw: 'line1\nline2 "q" \'s\'' }),
        );
        await store.insertDlq([older, newer]);
        await store.insertDlq([older]);
        expect(await store.listDlq({ source })).toEqual([newer, older]);
        expect(await store.listDlq({ source, limit: 1 })).toEqual([newer]);
        expect(await store.listDlq({ source: unique('none') })).toEqual([]);
      });

      it('filters by ids, reason text and since, and pages newest first with a cursor', async () => {
        const source = unique('src');
        const at = (minute: number): string => `2026-03-03T10:${String(minute).padStart(2, '0')}:00.000Z`;
        const records = [0, 1, 2, 3].map((m) =>
          DlqRecord.parse(
            dlqRecord({
              source,
              dlq_id: `p${m}`,
              received_at: at(m),
              reason: m % 2 === 0 ? 'occurred_at: expected an ISO-8601' : 'model: unknown',
            }),
          ),
        );
        // Two records received in the same millisecond are ordered by id.
        const twin = DlqRecord.parse(dlqRecord({ source, dlq_id: 'p2b', received_at: at(2), reason: 'cost_usd: too large' }));
        await store.insertDlq([...records, twin]);
        const ids = (list: DlqRecord[]): string[] => list.map((r) => r.dlq_id);
        expect(ids(await store.listDlq({ source }))).toEqual(['p3', 'p2', 'p2b', 'p1', 'p0']);
        expect(ids(await store.listDlq({ source, reason: 'OCCURRED_AT' }))).toEqual(['p2', 'p0']);
        expect(ids(await store.listDlq({ source, since: at(2) }))).toEqual(['p3', 'p2', 'p2b']);
        expect(ids(await store.listDlq({ source, ids: ['p1', 'p3', 'nope'] }))).toEqual(['p3', 'p1']);
        const first = await store.listDlq({ source, limit: 2 });
        expect(ids(first)).toEqual(['p3', 'p2']);
        const last = first.at(-1) as DlqRecord;
        const next = await store.listDlq({ source, limit: 2, after: { received_at: last.received_at, dlq_id: last.dlq_id } });
        expect(ids(next)).toEqual(['p2b', 'p1']);
      });

      it('keeps every replay and answers the first one per record', async () => {
        const dlqId = unique('replayed');
        await store.insertDlqReplays([
          { dlq_id: dlqId, replayed_at: '2026-03-04T10:00:00.000Z', event_id: 'e1', outcome: 'accepted', replayed_by: 'alice' },
          { dlq_id: dlqId, replayed_at: '2026-03-04T11:00:00.000Z', event_id: 'e1', outcome: 'duplicate', replayed_by: 'bob' },
        ]);
        const replays = await store.firstDlqReplays([dlqId, unique('never')]);
        expect([...replays.keys()]).toEqual([dlqId]);
        expect(replays.get(dlqId)).toEqual({
          dlq_id: dlqId,
          replayed_at: '2026-03-04T10:00:00.000Z',
          event_id: 'e1',
          outcome: 'accepted',
          replayed_by: 'alice',
        });
        expect(await store.firstDlqReplays([])).toEqual(new Map());
      });

      it('stores a record whose text is not valid Unicode, repaired, and says which fields were repaired', async () => {
        const source = unique('src');
        const poisoned = DlqRecord.parse(
          dlqRecord({
            source,
            dlq_id: 'd-surrogate',
            reason: 'developer holds \ud800',
            issues: [{ path: 'developer', message: 'lone \udc00' }],
            raw: '{"developer":"\ud800"}',
          }),
        );
        await store.insertDlq([poisoned]);
        const [stored] = await store.listDlq({ source });
        expect(stored).toEqual({
          ...poisoned,
          reason: 'developer holds \ufffd',
          issues: [
            { path: 'developer', message: 'lone \ufffd' },
            {
              path: '(dlq)',
              message: 'repaired to be storable: lone UTF-16 surrogates in reason, issues[0].message, raw replaced with U+FFFD',
            },
          ],
          raw: '{"developer":"\ufffd"}',
        });
      });
    });

    describe('anomalies', () => {
      it('returns the latest version, keeps every version, and collapses a replayed version', async () => {
        const id = unique('anom');
        const team = unique('team');
        const subject = { org: 'acme', team, developer: 'alice@acme.com' };
        const v1 = Anomaly.parse(anomaly({ id, version: 1, subject }));
        const v2 = Anomaly.parse(anomaly({ id, version: 2, subject, severity: 'critical', impact_usd: 80 }));
        const v3 = Anomaly.parse(anomaly({ id, version: 3, subject, status: 'resolved', detected_at: '2026-03-02T13:00:00.000Z' }));
        await store.insertAnomalies([v2]);
        await store.insertAnomalies([v3, v1]);
        await store.insertAnomalies([v2]);
        expect(await store.getAnomaly(id)).toEqual(v3);
        expect(await store.anomalyVersions(id)).toEqual([v1, v2, v3]);
        expect(await store.getAnomaly(unique('missing'))).toBeUndefined();
        expect(await store.anomalyVersions(unique('missing'))).toEqual([]);
        // Filters apply to the latest version only: v1 and v2 were open, v3 is resolved.
        expect(await store.listAnomalies({ team, status: 'open' })).toEqual([]);
        expect(await store.listAnomalies({ team, status: 'resolved' })).toEqual([v3]);
      });

      it('lists newest first with kind, team and limit filters', async () => {
        const team = unique('team');
        const subject = { org: 'acme', team };
        const a = Anomaly.parse(anomaly({ id: unique('a'), subject, detected_at: '2026-03-02T10:00:00.000Z' }));
        const b = Anomaly.parse(anomaly({ id: unique('b'), subject, kind: 'spend_spike', detected_at: '2026-03-02T12:00:00.000Z' }));
        const c = Anomaly.parse(anomaly({ id: unique('c'), subject, detected_at: '2026-03-02T11:00:00.000Z' }));
        await store.insertAnomalies([a, b, c]);
        expect(await store.listAnomalies({ team })).toEqual([b, c, a]);
        expect(await store.listAnomalies({ team, kind: 'session_cost' })).toEqual([c, a]);
        expect(await store.listAnomalies({ team, limit: 2 })).toEqual([b, c]);
        expect(await store.listAnomalies({ team: unique('none') })).toEqual([]);
      });

      it('pages with a keyset cursor, ties on detected_at ordered by id, and bounds by since', async () => {
        const team = unique('team');
        const subject = { org: 'acme', team };
        const at = (h: number) => `2026-03-02T${String(h).padStart(2, '0')}:00:00.000Z`;
        const make = (id: string, h: number) => Anomaly.parse(anomaly({ id: `${id}-${team}`, subject, detected_at: at(h) }));
        // a and b tie at 12:00 (ordered by id), then c at 11:00 and d at 10:00.
        const [a, b, c, d] = [make('a', 12), make('b', 12), make('c', 11), make('d', 10)];
        await store.insertAnomalies([d, c, b, a]);
        expect(await store.listAnomalies({ team })).toEqual([a, b, c, d]);
        const page = await store.listAnomalies({ team, limit: 1 });
        expect(page).toEqual([a]);
        expect(await store.listAnomalies({ team, limit: 2, after: { detected_at: a.detected_at, id: a.id } })).toEqual([b, c]);
        expect(await store.listAnomalies({ team, after: { detected_at: c.detected_at, id: c.id } })).toEqual([d]);
        expect(await store.listAnomalies({ team, since: at(11) })).toEqual([a, b, c]);
      });

      it('keeps whether a backfill found an anomaly, and filters on it', async () => {
        const team = unique('team');
        const subject = { org: 'acme', team };
        const live = Anomaly.parse(anomaly({ id: unique('live'), subject, detected_at: '2026-03-02T12:00:00.000Z' }));
        const found = Anomaly.parse(anomaly({ id: unique('hist'), subject, historical: true, detected_at: '2026-02-01T12:00:00.000Z' }));
        await store.insertAnomalies([live, found]);
        expect(await store.listAnomalies({ team })).toEqual([live, found]);
        expect(await store.listAnomalies({ team, historical: false })).toEqual([live]);
        expect(await store.listAnomalies({ team, historical: true })).toEqual([found]);
        expect(await store.anomalyVersions(found.id)).toEqual([found]);
      });

      it('tells when each anomaly was first detected, from its lowest stored version', async () => {
        const id = unique('anom');
        const v1 = Anomaly.parse(anomaly({ id, version: 1, detected_at: '2026-03-02T10:00:00.000Z' }));
        const v2 = Anomaly.parse(anomaly({ id, version: 2, detected_at: '2026-03-02T12:30:00.000Z' }));
        const other = Anomaly.parse(anomaly({ id: unique('anom'), version: 3, detected_at: '2026-03-02T09:00:00.000Z' }));
        await store.insertAnomalies([v2, other, v1]);
        const first = await store.firstDetectedAt([id, other.id, unique('missing')]);
        expect(first).toEqual(
          new Map([
            [id, '2026-03-02T10:00:00.000Z'],
            [other.id, '2026-03-02T09:00:00.000Z'],
          ]),
        );
        expect(await store.firstDetectedAt([])).toEqual(new Map());
      });
    });

    describe('anomaly state', () => {
      it('returns the latest decision per id, whatever the insert order', async () => {
        const x = unique('anom');
        const y = unique('anom');
        const ack = AnomalyState.parse(anomalyState({ anomaly_id: x, at: '2026-03-02T11:00:00.000Z', reason: 'real', note: 'on it' }));
        const snooze = AnomalyState.parse(
          anomalyState({
            anomaly_id: x,
            action: 'snoozed',
            at: '2026-03-02T12:00:00.000Z',
            snoozed_until: '2026-03-02T16:00:00.000Z',
            channel: 'email',
          }),
        );
        const yAck = AnomalyState.parse(anomalyState({ anomaly_id: y, at: '2026-03-02T09:00:00.000Z', channel: 'cli' }));
        await store.insertAnomalyStates([snooze, yAck]);
        await store.insertAnomalyStates([ack, snooze]);
        const latest = await store.latestAnomalyStates([x, y, unique('none')]);
        expect([...latest.keys()].sort()).toEqual([x, y].sort());
        expect(latest.get(x)).toEqual(snooze);
        expect(latest.get(y)).toEqual(yAck);
        // An earlier decision with every optional field round-trips too.
        expect((await store.latestAnomalyStates([x])).get(x)?.snoozed_until).toBe('2026-03-02T16:00:00.000Z');
        const z = unique('anom');
        const full = AnomalyState.parse(anomalyState({ anomaly_id: z, reason: 'noise', note: 'weekly batch job "expected"' }));
        await store.insertAnomalyStates([full]);
        expect((await store.latestAnomalyStates([z])).get(z)).toEqual(full);
      });

      it('lists every decision of the anomalies asked for, oldest first', async () => {
        const x = unique('anom');
        const y = unique('anom');
        const ack = AnomalyState.parse(anomalyState({ anomaly_id: x, at: '2026-03-02T11:00:00.000Z' }));
        const resolve = AnomalyState.parse(
          anomalyState({ anomaly_id: x, action: 'resolved', reason: 'noise', at: '2026-03-02T12:00:00.000Z' }),
        );
        const yAck = AnomalyState.parse(anomalyState({ anomaly_id: y, at: '2026-03-02T11:30:00.000Z', channel: 'api' }));
        const elsewhere = AnomalyState.parse(anomalyState({ anomaly_id: unique('anom') }));
        await store.insertAnomalyStates([resolve, elsewhere, yAck, ack]);
        expect(await store.listAnomalyStates({ anomaly_ids: [x, y] })).toEqual([ack, yAck, resolve]);
        expect(await store.listAnomalyStates({ anomaly_id: x })).toEqual([ack, resolve]);
        expect(await store.listAnomalyStates({ anomaly_ids: [] })).toEqual([]);
      });
    });

    describe('deliveries', () => {
      it('keeps the latest attempt per (anomaly, version, receiver) and filters after picking it', async () => {
        const anomaly_id = unique('anom');
        const failed = delivery({ anomaly_id, status: 'failed', detail: 'HTTP 503', attempts: 1, at: '2026-03-02T11:00:00.000Z' });
        const sent = delivery({ anomaly_id, status: 'sent', detail: 'ts=1', attempts: 2, at: '2026-03-02T11:00:30.000Z' });
        const email = delivery({ anomaly_id, receiver: 'email:leads@acme.com', channel: 'email', at: '2026-03-02T11:00:10.000Z' });
        const v2 = delivery({ anomaly_id, version: 2, at: '2026-03-02T12:00:00.000Z' });
        await store.insertDeliveries([sent, email]);
        await store.insertDeliveries([failed, v2]);
        expect(await store.listDeliveries({ anomaly_id })).toEqual([email, sent, v2]);
        expect(await store.listDeliveries({ anomaly_id, status: 'failed' })).toEqual([]);
        expect(await store.listDeliveries({ anomaly_id, status: 'sent' })).toEqual([email, sent, v2]);
        expect(await store.listDeliveries({ anomaly_id: unique('none') })).toEqual([]);
      });

      it('finds every anomaly version one message carried by its message id', async () => {
        const message = unique('C0PAY:1796600000.000100');
        const [a, b] = [unique('anom'), unique('anom')];
        const carried = [a, b].map((anomaly_id) => delivery({ anomaly_id, status: 'sent', detail: message }));
        await store.insertDeliveries([...carried, delivery({ anomaly_id: a, version: 2, status: 'sent', detail: unique('other') })]);
        expect((await store.listDeliveries({ status: 'sent', detail: message })).map((d) => d.anomaly_id).sort()).toEqual([a, b].sort());
      });
    });

    describe('notification outbox', () => {
      const entry = (overrides: Partial<OutboxEntry> = {}): OutboxEntry => ({
        anomaly_id: unique('anom'),
        version: 1,
        receiver: 'slack:#payments-ai-spend',
        purpose: 'notify',
        channel: 'slack',
        recipients: ['#payments-ai-spend'],
        via: 'team',
        group_key: '["slack:#payments-ai-spend","team=payments","kind=session_cost"]',
        part: 0,
        due_at: '2026-03-02T11:00:10.000Z',
        status: 'queued',
        attempts: 0,
        detail: 'queued: new',
        updated_at: '2026-03-02T11:00:00.000Z',
        ...overrides,
      });

      it('keeps the latest row per (anomaly, version, receiver, purpose), filtered after picking it, earliest due first', async () => {
        const anomaly_id = unique('anom');
        const queued = entry({ anomaly_id });
        const later = entry({ anomaly_id, purpose: 'escalate', receiver: 'slack:#payments-oncall', due_at: '2026-03-02T11:30:10.000Z' });
        await store.upsertOutbox([queued, later]);
        expect(await store.listOutbox({ anomaly_id })).toEqual([queued, later]);
        const done = { ...queued, status: 'done' as const, detail: 'sent as C0:1.1', updated_at: '2026-03-02T11:00:11.000Z' };
        await store.upsertOutbox([done]);
        expect(await store.listOutbox({ anomaly_id, status: 'queued' })).toEqual([later]);
        expect(await store.listOutbox({ anomaly_id, status: 'done' })).toEqual([done]);
        expect(await store.listOutbox({ anomaly_id, status: 'queued', due_by: '2026-03-02T11:30:09.999Z' })).toEqual([]);
        expect(await store.listOutbox({ anomaly_id, due_by: '2026-03-02T11:30:10.000Z', status: 'queued' })).toEqual([later]);
      });

      it('lists only the partitions asked for', async () => {
        const anomaly_id = unique('anom');
        const rows = [0, 1, 2].map((part) => entry({ anomaly_id, part, receiver: `slack:#p${part}` }));
        await store.upsertOutbox(rows);
        expect((await store.listOutbox({ anomaly_id, parts: [0, 2] })).map((e) => e.part)).toEqual([0, 2]);
        expect(await store.listOutbox({ anomaly_id, parts: [] })).toEqual([]);
      });
    });

    describe('silences', () => {
      const silence = (overrides: Partial<Silence> = {}): Silence =>
        Silence.parse({
          id: unique('sil'),
          matchers: [
            { label: 'team', value: 'o\'brien "payments"' },
            { label: 'kind', value: 'session_cost', op: '!=' },
          ],
          starts_at: '2026-03-02T10:00:00.000Z',
          ends_at: '2026-03-02T14:00:00.000Z',
          created_by: 'bob@acme.com',
          comment: 'load test\nall afternoon',
          created_at: '2026-03-02T09:59:00.000Z',
          ...overrides,
        });
      const ours = async (ids: string[], filter?: { active_at?: string }) =>
        (await store.listSilences(filter)).filter((s) => ids.includes(s.id));

      it('round-trips a silence, lists newest created first, and filters by the instant they are active at', async () => {
        const early = silence({ created_at: '2026-03-02T09:00:00.000Z' });
        const late = silence({ created_at: '2026-03-02T09:30:00.000Z', starts_at: '2026-03-02T12:00:00.000Z' });
        await store.insertSilences([early, late]);
        const ids = [early.id, late.id];
        expect(await ours(ids)).toEqual([late, early]);
        expect(await ours(ids, { active_at: '2026-03-02T09:59:59.999Z' })).toEqual([]);
        expect(await ours(ids, { active_at: '2026-03-02T10:00:00.000Z' })).toEqual([early]);
        expect(await ours(ids, { active_at: '2026-03-02T12:00:00.000Z' })).toEqual([late, early]);
        expect(await ours(ids, { active_at: '2026-03-02T14:00:00.000Z' })).toEqual([]);
      });

      it('keeps the later write of an id: an early expiry replaces the silence, even though its ends_at is earlier', async () => {
        const s = silence();
        await store.insertSilences([s]);
        const expired = { ...s, ends_at: '2026-03-02T11:00:00.000Z' };
        await store.insertSilences([expired]);
        expect(await ours([s.id])).toEqual([expired]);
        expect(await ours([s.id], { active_at: '2026-03-02T12:00:00.000Z' })).toEqual([]);
        expect(await ours([s.id], { active_at: '2026-03-02T10:30:00.000Z' })).toEqual([expired]);
      });
    });

    describe('detector snapshots', () => {
      const read = async (key: string): Promise<{ offset: string; parts: string[] } | undefined> => {
        const found = await store.loadSnapshot(key);
        if (found === undefined) return undefined;
        const parts: string[] = [];
        for await (const part of found.parts()) parts.push(part);
        expect(parts).toHaveLength(found.partCount);
        return { offset: found.offset, parts };
      };
      /** `count` parts of about `size` bytes, different for every `seed`. */
      const partsOf = (seed: string, count: number, size = 1000): string[] =>
        Array.from({ length: count }, (_, i) => `${seed}/${i}/`.padEnd(size, String.fromCharCode(97 + (i % 26))) + 'é');

      it('loads the snapshot with the greatest saved_at, its parts in order, large states included', async () => {
        const key = unique('detector:usage.events.v1:0');
        const big = JSON.stringify({ keys: Array.from({ length: 20_000 }, (_, i) => [`dev-${i}`, i * 0.5]) });
        const newer = { key, offset: '1200', parts: [big, ...partsOf('newer', 3)], saved_at: '2026-03-02T11:00:00.000Z' };
        const older = { key, offset: '1100', parts: ['{"old":true}'], saved_at: '2026-03-02T10:00:00.000Z' };
        await store.saveSnapshot(newer);
        await store.saveSnapshot(older);
        expect(await read(key)).toEqual({ offset: '1200', parts: newer.parts });
        const found = await store.loadSnapshot(key);
        expect(found).toMatchObject({ key, offset: '1200', saved_at: newer.saved_at, partCount: 4 });
        expect(await store.loadSnapshot(unique('none'))).toBeUndefined();
      });

      it('always loads the last save, as snapshots grow, shrink and alternate, even within one millisecond', async () => {
        const key = unique('detector:usage.events.v1:1');
        const counts = [5, 2, 7, 1, 3, 3, 6];
        for (const [n, count] of counts.entries()) {
          // Every save at the same instant (a clock that did not move): the later save still wins.
          const snapshot = { key, offset: String(100 + n), parts: partsOf(`gen${n}`, count), saved_at: '2026-03-02T12:00:00.000Z' };
          await store.saveSnapshot(snapshot);
          expect(await read(key)).toEqual({ offset: snapshot.offset, parts: snapshot.parts });
        }
      });

      it('refuses a part over the row limit before writing anything, and keeps the previous snapshot', async () => {
        const key = unique('detector:usage.events.v1:2');
        await store.saveSnapshot({ key, offset: '7', parts: ['{"kept":true}'], saved_at: '2026-03-02T10:00:00.000Z' });
        const tooBig = 'x'.repeat(store.maxSnapshotPartBytes + 1);
        await expect(
          store.saveSnapshot({ key, offset: '8', parts: ['{"a":1}', tooBig], saved_at: '2026-03-02T10:00:01.000Z' }),
        ).rejects.toMatchObject({ code: 'INPUT_TOO_LARGE', message: expect.stringContaining('part 1') as unknown });
        await expect(store.saveSnapshot({ key, offset: '9', parts: [], saved_at: '2026-03-02T10:00:02.000Z' })).rejects.toMatchObject({
          code: 'INPUT_INVALID',
        });
        expect(await read(key)).toEqual({ offset: '7', parts: ['{"kept":true}'] });
      });
    });
  });
}
