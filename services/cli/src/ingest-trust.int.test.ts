import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '@burnrate/core';
import { keyHash } from '@burnrate/ingest';
import { createChdbStore } from '@burnrate/store';
import { type SlackStandIn, waitUntil } from '@burnrate/testing';
import {
  type BurnrateProcess,
  postJson,
  startBurnrate,
  startSurroundings,
  type Surroundings,
  waitForCaughtUp,
} from '../test-support/burnrate-process.ts';

const PAYMENTS_KEY = 'brk_payments_int_3b8e2f71c4a95d06';
const NEXT_KEY = 'brk_payments_next_int_9c1d7e4a2b6f8035';
const REVOKED_KEY = 'brk_payments_leaked_int_5e2a9c7d1f3b4860';
const API_TOKEN = 'api-token-for-operators';

const CONFIG = `
org: acme
teams:
  - id: payments
    members: [alice@acme.com]
    slack: { channel: "#payments-ai-spend" }
    email: [payments-leads@acme.com]
  - id: research
    members: [carol@acme.com]
    slack: { channel: "#research-ai-spend" }
ownership:
  - match: { team_id: research }
    team: research
sources:
  - name: payments-laptops
    team: payments
    keys:
      - ${keyHash(PAYMENTS_KEY)}
      - ${keyHash(NEXT_KEY)}
      - { sha256: ${keyHash(REVOKED_KEY)}, revoked_at: 2026-01-01T00:00:00Z }
ingest:
  rate_limit: { requests_per_second: 2, burst: 40 }
routes:
  group_by: [anomaly]
  group_wait: 0s
  group_interval: 0s
  rules:
    - match: { severity: [warning, critical] }
      notify: [team]
`;

const bearer = (key: string) => ({ authorization: `Bearer ${key}` });
const criticalSession = (developer: string, session: string, extra: Record<string, unknown> = {}) => [
  {
    occurred_at: '2026-11-27T10:00:00Z',
    developer_email: developer,
    model: 'claude-opus-4-5',
    session_id: session,
    cost_usd: 150,
    ...extra,
  },
];

// The trust boundary of `burnrate start` through its real HTTP port, with the embedded store:
// strangers and over-claiming senders raise nothing, and an event, once accepted, cannot be changed.
describe('burnrate start: who may post, and what an accepted event is', () => {
  let around: Surroundings;
  let slack: SlackStandIn;
  let burnrate: BurnrateProcess | undefined;

  beforeAll(async () => {
    around = await startSurroundings();
    slack = around.slack;
    const configPath = join(around.dir.path, 'trust.yaml');
    await writeFile(configPath, CONFIG);
    burnrate = await startBurnrate({ ...around.env, BURNRATE_CONFIG: configPath, BURNRATE_API_TOKEN: API_TOKEN });
  });

  afterAll(async () => {
    await burnrate?.stop();
    await around?.close();
  });

  it('raises nothing for posts without a key, with an unknown key or a revoked one', async () => {
    const url = `${burnrate!.url}/v1/events`;
    const anonymous = await postJson(url, criticalSession('alice@acme.com', 'anon-1'), { authorization: '' });
    const guessed = await postJson(url, criticalSession('carol@acme.com', 'anon-2'), bearer('brk_guessed'));
    const revoked = await postJson(url, criticalSession('alice@acme.com', 'anon-3'), bearer(REVOKED_KEY));
    expect([anonymous.status, guessed.status, revoked.status]).toEqual([401, 401, 401]);
    expect(JSON.stringify(revoked.body)).toMatch(/revoked/);
    const otlp = await fetch(`${burnrate!.url}/v1/logs`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
    expect(otlp.status).toBe(401);
  });

  it('refuses a payments key claiming a research member or team.id: 403, nothing raised', async () => {
    const url = `${burnrate!.url}/v1/events`;
    const member = await postJson(url, criticalSession('carol@acme.com', 'claim-1'), bearer(PAYMENTS_KEY));
    expect(member.status).toBe(403);
    const teamId = await postJson(
      url,
      criticalSession('mallory@acme.com', 'claim-2', { attributes: { 'team.id': 'research' } }),
      bearer(NEXT_KEY),
    );
    expect(teamId.status).toBe(403);
    expect(JSON.stringify(teamId.body)).toMatch(/may only send for team \\"payments\\"/);
  });

  it('alerts the payments team for what its own key sends, with either key of a rotation', async () => {
    const url = `${burnrate!.url}/v1/events`;
    expect((await postJson(url, criticalSession('alice@acme.com', 'real-1'), bearer(PAYMENTS_KEY))).status).toBe(200);
    expect((await postJson(url, criticalSession('alice@acme.com', 'real-2'), bearer(NEXT_KEY))).status).toBe(200);
    await waitUntil(() => slack.messages.length >= 2, { timeoutMs: 15_000, message: 'the two payments alerts' });
    // Only the two sessions the key could vouch for: nothing for the refused and anonymous posts,
    // once every stage has handled everything.
    await waitForCaughtUp(burnrate!.url);
    expect(slack.messages.map((m) => m.channelName)).toEqual(['#payments-ai-spend', '#payments-ai-spend']);
  });

  it('keeps the first content of an event_id: inv-42 stays $500 and its $0 copy is dead-lettered', async () => {
    const url = `${burnrate!.url}/v1/events`;
    const invoice = (cost: number) => [
      { event_id: 'inv-42', occurred_at: '2026-11-27T11:00:00Z', developer_email: 'alice@acme.com', model: 'gpt-5', cost_usd: cost },
    ];
    expect(await postJson(url, invoice(500), bearer(PAYMENTS_KEY))).toEqual({
      status: 200,
      body: { accepted: 1, duplicates: 0, rejected: [] },
    });
    expect(await postJson(url, invoice(500), bearer(PAYMENTS_KEY))).toEqual({
      status: 200,
      body: { accepted: 1, duplicates: 1, rejected: [] },
    });
    const changed = await postJson(url, invoice(0), bearer(PAYMENTS_KEY));
    expect(changed.status).toBe(400);
    expect(JSON.stringify(changed.body)).toMatch(/inv-42 was already accepted with other content/);
  });

  it('answers 429 with Retry-After once a source is past its burst', async () => {
    const statuses: number[] = [];
    let retryAfter: string | null = null;
    for (let i = 0; i < 60 && retryAfter === null; i++) {
      const res = await fetch(`${burnrate!.url}/v1/metrics`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...bearer(PAYMENTS_KEY) },
        body: '{"resourceMetrics":[]}',
      });
      statuses.push(res.status);
      if (res.status === 429) retryAfter = res.headers.get('retry-after');
      await res.arrayBuffer();
    }
    expect(statuses.filter((s) => s === 429)).toHaveLength(1);
    expect(Number(retryAfter)).toBeGreaterThanOrEqual(1);
  });

  it('tells strangers on /healthz only that it is up, and operators with the API token the rest', async () => {
    const open = (await (await fetch(`${burnrate!.url}/healthz`)).json()) as Record<string, unknown>;
    expect(open).toMatchObject({ status: 'ok', mode: 'embedded' });
    expect(JSON.stringify(open)).not.toMatch(/acme|trust\.yaml|payments/);
    const operator = (await (await fetch(`${burnrate!.url}/healthz`, { headers: bearer(API_TOKEN) })).json()) as Record<string, unknown>;
    expect(operator).toMatchObject({
      org: 'acme',
      config: { path: expect.stringMatching(/trust\.yaml$/) as unknown, hash: expect.stringMatching(/^[0-9a-f]{64}$/) as unknown },
      ingest: { auth: 'keys', refused: { missing_key: 2, unknown_key: 1, revoked_key: 1, over_claiming: 2, rate_limited: 1 } },
    });
  });

  it('has stored only what was accepted, with the first content of inv-42', async () => {
    expect(await burnrate!.stop()).toBe(0);
    burnrate = undefined;
    const store = await createChdbStore({ dataDir: around.chdbDir, log: createLogger({ level: 'silent' }) });
    try {
      const events = await store.listUsageEvents({ limit: 1000 });
      expect(events.map((e) => [e.session_id ?? e.event_id, e.team, e.cost_usd]).sort()).toEqual([
        ['inv-42', 'payments', 500],
        ['real-1', 'payments', 150],
        ['real-2', 'payments', 150],
      ]);
      const spend = await store.spendByHour({ org: 'acme' });
      expect(spend.reduce((sum, row) => sum + row.cost_usd, 0)).toBe(800);
      const dlq = await store.listDlq({ source: 'http_events' });
      expect(dlq.map((d) => d.reason)).toEqual([expect.stringMatching(/^event_id: inv-42 was already accepted with other content/)]);
      const anomalies = await store.listAnomalies({ limit: 100 });
      expect(anomalies.map((a) => a.subject.session).sort()).toEqual(['real-1', 'real-2']);
    } finally {
      await store.close();
    }
  });
});
