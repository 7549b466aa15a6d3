import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Bus, createInProcessBus } from '@burnrate/bus';
import { createLogger } from '@burnrate/core';
import { AnomalyState, TOPIC_NAMES, TOPICS } from '@burnrate/schemas';
import { createChdbStore } from '@burnrate/store';
import { waitUntil } from '@burnrate/testing';
import { type BurnrateProcess, postJson, startBurnrate, startSurroundings, type Surroundings } from '../test-support/burnrate-process.ts';

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
describe('on call through burnrate start: the API', () => {
  let around: Surroundings;
  let burnrate: BurnrateProcess | undefined;
  let anomalyId: string;

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
    const costs = [10, 10, 10];
    const events = costs.map((cost_usd, i) => ({
      occurred_at: new Date(Date.UTC(2026, 10, 27, 10, i)).toISOString(),
      developer_email: 'alice@acme.com',
      model: 'claude-opus-4-5',
      session_id: 'on-call-1',
      cost_usd,
    }));
    expect((await postJson(`${burnrate.url}/v1/events`, events)).status).toBe(200);
    const listed = await waitUntil(
      async () => {
        const { body } = await api('/api/anomalies');
        return (body as { anomalies: Entry[] }).anomalies[0];
      },
      { timeoutMs: 20_000, message: 'the session_cost anomaly listed by the API' },
    );
    anomalyId = listed.id;
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

    await burnrate.stop();
    burnrate = undefined;
    const store = await createChdbStore({ dataDir: around.chdbDir, log });
    try {
      expect((await store.listAnomalyStates({ anomaly_id: anomalyId })).map((d) => d.action)).toEqual(['acknowledged', 'resolved']);
    } finally {
      await store.close();
    }
  });
});
