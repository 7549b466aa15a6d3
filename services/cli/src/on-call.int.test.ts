import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Bus, createInProcessBus } from '@burnrate/bus';
import { createLogger } from '@burnrate/core';
import { AnomalyState, TOPIC_NAMES, TOPICS } from '@burnrate/schemas';
import { createChdbStore } from '@burnrate/store';
import { freePort, waitUntil } from '@burnrate/testing';
import { runCli } from '../test-support/service-process.ts';
import {
  type BurnrateProcess,
  postJson,
  startBurnrate,
  startSurroundings,
  type Surroundings,
  waitForCaughtUp,
} from '../test-support/burnrate-process.ts';

const API_TOKEN = 'on-call-api-token';
const bearer = { authorization: `Bearer ${API_TOKEN}` };
const log = createLogger({ level: 'silent' });

interface Entry {
  id: string;
  state: string;
  acknowledged_by: string | null;
  decisions?: AnomalyState[];
}

// One `burnrate start` (restarted once), driven through its HTTP port as an on-call engineer would.
describe('on call through burnrate start', () => {
  let around: Surroundings;
  let burnrate: BurnrateProcess | undefined;
  let anomalyId: string;
  // The anomaly the CLI works on.
  let otherId: string;

  const api = async (path: string, init: RequestInit = {}): Promise<{ status: number; body: unknown }> => {
    const res = await fetch(`${burnrate!.url}${path}`, { ...init, headers: { ...bearer, ...(init.headers as Record<string, string>) } });
    return { status: res.status, body: await res.json() };
  };
  const post = (path: string, body: unknown) =>
    api(path, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });

  const openBus = () => createInProcessBus({ dir: join(around.env.BURNRATE_DATA_DIR!, 'bus'), log });
  // A group of our own on anomaly-state.v1: the log keeps what a known group has not read yet.
  const readDecisions = (bus: Bus, into: AnomalyState[]) =>
    bus.subscribe({
      groupId: 'test-reader',
      topics: [TOPICS.anomalyState.name],
      handleBatch: async (batch) => void into.push(...batch.messages.map((m) => AnomalyState.parse(JSON.parse(m.value)))),
    });

  beforeAll(async () => {
    around = await startSurroundings();
    const bus = openBus();
    await bus.ensureTopics(TOPIC_NAMES);
    const reader = readDecisions(bus, []);
    await reader.start();
    await reader.stop();
    await bus.close();
    burnrate = await startBurnrate({ ...around.env, BURNRATE_API_TOKEN: API_TOKEN });
    const session = (id: string, hour: number) =>
      [10, 10, 10].map((cost_usd, i) => ({
        occurred_at: new Date(Date.UTC(2026, 10, 27, hour, i)).toISOString(),
        developer_email: 'alice@acme.com',
        model: 'claude-opus-4-5',
        session_id: id,
        cost_usd,
      }));
    expect((await postJson(`${burnrate.url}/v1/events`, [...session('on-call-1', 10), ...session('on-call-2', 11)])).status).toBe(200);
    const listed = await waitUntil(
      async () => {
        const { body } = await api('/api/anomalies');
        const anomalies = (body as { anomalies: (Entry & { subject: { session: string } })[] }).anomalies;
        return anomalies.length === 2 && anomalies;
      },
      { timeoutMs: 20_000, message: 'the two session_cost anomalies listed by the API' },
    );
    anomalyId = listed.find((a) => a.subject.session === 'on-call-1')!.id;
    otherId = listed.find((a) => a.subject.session === 'on-call-2')!.id;
    // Sent too, so the deliveries below are final.
    await waitForCaughtUp(burnrate.url);
  });

  afterAll(async () => {
    await burnrate?.stop();
    await around?.close();
  });

  it('refuses the API without the token', async () => {
    const res = await fetch(`${burnrate!.url}/api/anomalies`);
    expect(res.status).toBe(401);
    const ack = await fetch(`${burnrate!.url}/api/anomalies/${anomalyId}/ack`, { method: 'POST' });
    expect(ack.status).toBe(401);
  });

  it('acknowledges through the API; the anomaly then shows who and when', async () => {
    const ack = await post(`/api/anomalies/${anomalyId}/ack`, { by: 'bob@acme.com', note: 'looking' });
    expect(ack.status).toBe(200);
    expect(ack.body).toMatchObject({ decision: { action: 'acknowledged', by: 'bob@acme.com', channel: 'api' } });

    const shown = await api(`/api/anomalies/${anomalyId}`);
    expect(shown.body).toMatchObject({
      id: anomalyId,
      kind: 'session_cost',
      state: 'acknowledged',
      acknowledged_by: 'bob@acme.com',
      acknowledged_at: expect.any(String) as unknown,
      versions: [expect.objectContaining({ version: 1 })],
      decisions: [expect.objectContaining({ action: 'acknowledged', by: 'bob@acme.com', note: 'looking' })],
      deliveries: expect.arrayContaining([expect.objectContaining({ receiver: 'slack:#payments-ai-spend', status: 'sent' })]) as unknown,
    });
    const acknowledged = await api('/api/anomalies?state=acknowledged');
    expect((acknowledged.body as { anomalies: Entry[] }).anomalies.map((a) => a.id)).toEqual([anomalyId]);
    expect((await api('/api/anomalies/not-an-anomaly')).status).toBe(404);
  });

  it('a decision on anomaly-state.v1 is stored by the sink, and survives a restart', async () => {
    // A decision the API put on the bus but whose direct store write failed: only the sink can store it.
    await burnrate!.stop();
    burnrate = undefined;
    const bus = openBus();
    const onTheBus: AnomalyState[] = [];
    const reader = readDecisions(bus, onTheBus);
    await reader.start();
    // The acknowledgement of the previous test went through the topic too.
    await waitUntil(() => onTheBus.length >= 1, { message: 'the acknowledgement on anomaly-state.v1' });
    expect(onTheBus).toEqual([expect.objectContaining({ anomaly_id: anomalyId, action: 'acknowledged', by: 'bob@acme.com' })]);
    const resolved = AnomalyState.parse({
      anomaly_id: anomalyId,
      action: 'resolved',
      by: 'carol@acme.com',
      channel: 'slack',
      at: new Date().toISOString(),
      reason: 'real',
    });
    await bus.producer().send(TOPICS.anomalyState.name, [{ key: anomalyId, value: JSON.stringify(resolved) }]);
    await reader.stop();
    await bus.close();

    burnrate = await startBurnrate({ ...around.env, BURNRATE_API_TOKEN: API_TOKEN });
    const shown = await waitUntil(
      async () => {
        const { body } = await api(`/api/anomalies/${anomalyId}`);
        return (body as Entry).state === 'resolved' && (body as Entry);
      },
      { timeoutMs: 20_000, message: 'the resolution stored by the sink' },
    );
    expect(shown).toMatchObject({ acknowledged_by: 'bob@acme.com', reason: 'real' });
    expect(shown.decisions?.map((d) => [d.action, d.by, d.channel])).toEqual([
      ['acknowledged', 'bob@acme.com', 'api'],
      ['resolved', 'carol@acme.com', 'slack'],
    ]);
  });

  describe('the CLI, against the running instance', () => {
    const cliEnv = () => ({ BURNRATE_URL: burnrate!.url, BURNRATE_API_TOKEN: API_TOKEN, BURNRATE_USER: 'dave@acme.com' });

    it('lists, acknowledges, snoozes and shows an anomaly', async () => {
      const list = await runCli(['anomalies', 'list', '--state', 'open'], cliEnv());
      expect(list.stderr).toBe('');
      expect(list.code).toBe(0);
      expect(list.stdout.split('\n')[0]).toMatch(/^ID\s+STATE\s+SEVERITY\s+KIND/);
      expect(list.stdout).toContain(otherId);
      expect(list.stdout).not.toContain(anomalyId);

      const ack = await runCli(['anomalies', 'ack', otherId, '--note', 'mine'], cliEnv());
      expect([ack.code, ack.stdout.trim()]).toEqual([0, `${otherId}: acknowledged by dave@acme.com`]);
      const snooze = await runCli(['anomalies', 'snooze', otherId, '--for', '1h'], cliEnv());
      expect(snooze.code).toBe(0);
      expect(snooze.stdout).toMatch(new RegExp(`^${otherId}: snoozed until \\d{4}-\\d{2}-\\d{2} \\d{2}:\\d{2}Z by dave@acme.com`));

      const { body } = await api(`/api/anomalies/${otherId}`);
      expect(body).toMatchObject({ state: 'snoozed', acknowledged_by: 'dave@acme.com' });
      expect((body as Entry).decisions?.map((d) => [d.action, d.channel])).toEqual([
        ['acknowledged', 'cli'],
        ['snoozed', 'cli'],
      ]);
      const show = await runCli(['anomalies', 'show', otherId], cliEnv());
      expect(show.code).toBe(0);
      expect(show.stdout).toMatch(/snoozed \(until .*\)\n/);
      expect(show.stdout).toMatch(/decisions:\n.*\n.*acknowledged\s+dave@acme.com\s+cli\s+"mine"\n.*snoozed\s+dave@acme.com\s+cli/);
    });

    it('adds, lists and expires a silence', async () => {
      const add = await runCli(
        ['silence', 'add', '--match', 'team=payments', 'kind=session_cost', '--for', '4h', '--comment', 'load test'],
        cliEnv(),
      );
      expect(add.stderr).toBe('');
      const id = /^silence (\S+) added \(active\): team=payments kind=session_cost/.exec(add.stdout)?.[1];
      expect(id).toBeDefined();
      const list = await runCli(['silence', 'list'], cliEnv());
      expect(list.stdout).toMatch(new RegExp(`${id}\\s+active\\s+team=payments kind=session_cost.*dave@acme.com\\s+load test`));
      const { body } = await api('/api/silences');
      expect(body).toEqual({ silences: [expect.objectContaining({ id, created_by: 'dave@acme.com', state: 'active' })] });
      const expire = await runCli(['silence', 'expire', id!], cliEnv());
      expect([expire.code, expire.stdout]).toEqual([0, expect.stringMatching(new RegExp(`^silence ${id} expired at `))]);
      expect((await runCli(['silence', 'list'], cliEnv())).stdout.trim()).toBe(
        'no active or pending silences (--all lists expired ones too)',
      );
    });

    it('reports precision per kind and team', async () => {
      const { body } = await api('/api/report/precision?since=400d');
      expect((body as { rows: unknown[] }).rows).toEqual([
        {
          kind: 'session_cost',
          team: 'payments',
          episodes: 2,
          acknowledged: 2,
          resolved_real: 1,
          resolved_expected: 0,
          resolved_noise: 0,
          noise_share: 0,
        },
      ]);
      const report = await runCli(['report', 'precision', '--since', '400d'], cliEnv());
      expect(report.stderr).toBe('');
      expect(report.stdout).toMatch(/\nsession_cost\s+payments\s+2\s+2\s+1\s+0\s+0\s+0%\n/);
    });

    it('says what is wrong when the token is missing or the instance is not there', async () => {
      const noToken = await runCli(['anomalies', 'list'], { BURNRATE_URL: burnrate!.url });
      expect(noToken.code).toBe(1);
      expect(noToken.stderr.trim()).toBe(
        `Burnrate at ${burnrate!.url} needs an API token: set BURNRATE_API_TOKEN to the one it was started with`,
      );
      const port = await freePort();
      const nobody = await runCli(['anomalies', 'ack', otherId], { BURNRATE_URL: `http://127.0.0.1:${port}` });
      expect(nobody.code).toBe(1);
      expect(nobody.stderr.trim()).toBe(
        `cannot reach Burnrate at http://127.0.0.1:${port} (connection refused): is it running (burnrate start)? Set BURNRATE_URL to reach another instance`,
      );
    });
  });

  it('keeps every decision and silence in the store', async () => {
    await burnrate!.stop();
    burnrate = undefined;
    const store = await createChdbStore({ dataDir: around.chdbDir, log });
    try {
      expect((await store.listAnomalyStates({ anomaly_id: anomalyId })).map((d) => d.action)).toEqual(['acknowledged', 'resolved']);
      expect((await store.listAnomalyStates({ anomaly_id: otherId })).map((d) => [d.action, d.by])).toEqual([
        ['acknowledged', 'dave@acme.com'],
        ['snoozed', 'dave@acme.com'],
      ]);
      expect(await store.listSilences()).toEqual([expect.objectContaining({ comment: 'load test', created_by: 'dave@acme.com' })]);
    } finally {
      await store.close();
    }
  });
});
