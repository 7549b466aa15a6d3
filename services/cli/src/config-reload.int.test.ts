import { writeFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '@burnrate/core';
import { createChdbStore } from '@burnrate/store';
import { waitUntil } from '@burnrate/testing';
import {
  type BurnrateProcess,
  postJson,
  startBurnrate,
  startSurroundings,
  type Surroundings,
  TEST_CONFIG,
} from '../test-support/burnrate-process.ts';

// SIGHUP reloads burnrate.yaml in a running `burnrate start`: the next request is attributed with
// the new members, an invalid file is refused while the old config keeps serving, and the
// detector's state built under the old config is not lost.
describe('burnrate start reloads its config on SIGHUP', () => {
  let around: Surroundings;
  let burnrate: BurnrateProcess | undefined;
  const configPath = () => around.env.BURNRATE_CONFIG as string;
  const record = (id: string, email: string, minute: number) => ({
    event_id: id,
    occurred_at: new Date(Date.UTC(2026, 10, 27, 10, minute)).toISOString(),
    developer_email: email,
    model: 'claude-opus-4-5',
    session_id: `reload-${email}`,
    cost_usd: 10,
  });
  const hup = async (expected: RegExp): Promise<void> => {
    const seen = burnrate!.logs.length;
    burnrate!.child.kill('SIGHUP');
    await waitUntil(() => burnrate!.logs.slice(seen).some((l) => expected.test(l)), {
      timeoutMs: 10_000,
      message: `a log line matching ${expected}`,
    });
  };

  beforeAll(async () => {
    around = await startSurroundings();
    burnrate = await startBurnrate(around.env);
  });

  afterAll(async () => {
    await burnrate?.stop();
    await around?.close();
  });

  it('attributes the next request with the reloaded members, keeps serving through an invalid file, and keeps detector state', async () => {
    const url = `${burnrate!.url}/v1/events`;
    expect((await postJson(url, [record('before', 'carol@acme.com', 0)])).status).toBe(200);
    expect((await postJson(url, [record('alice-1', 'alice@acme.com', 1), record('alice-2', 'alice@acme.com', 2)])).status).toBe(200);

    await writeFile(
      configPath(),
      TEST_CONFIG.replace('members: [alice@acme.com, bob@acme.com]', 'members: [alice@acme.com, bob@acme.com, carol@acme.com]'),
    );
    await hup(/"config reloaded"/);
    expect((await postJson(url, [record('after', 'carol@acme.com', 3)])).status).toBe(200);

    await writeFile(configPath(), 'org: acme\nteams: [{ id: Not An Id }]\n');
    await hup(/"config reload refused; the config in use stays"/);
    // Still serving, with the last valid config: carol is still a member.
    expect((await postJson(url, [record('while-invalid', 'carol@acme.com', 4)])).status).toBe(200);
    // Alice's session crosses the $25 warning with this one: $30 counted over the reloads.
    expect((await postJson(url, [record('alice-3', 'alice@acme.com', 5)])).status).toBe(200);
    await around.slack.waitFor((m) => m.channelName === '#payments-ai-spend', 15_000);

    expect(await burnrate!.stop()).toBe(0);
    burnrate = undefined;
    const store = await createChdbStore({ dataDir: around.chdbDir, log: createLogger({ level: 'silent' }) });
    try {
      const teams = Object.fromEntries((await store.listUsageEvents({ limit: 100 })).map((e) => [e.event_id, e.team]));
      expect(teams).toMatchObject({ before: 'unattributed', after: 'payments', 'while-invalid': 'payments', 'alice-3': 'payments' });
      const [anomaly] = await store.listAnomalies({ kind: 'session_cost' });
      expect(anomaly).toMatchObject({ subject: { session: 'reload-alice@acme.com' }, observed: { value: 30 } });
    } finally {
      await store.close();
    }
  });
});
