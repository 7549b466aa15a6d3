import { rename, writeFile } from 'node:fs/promises';
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
    // SIGHUP alone: the file watch (tested below) would reload these writes by itself.
    burnrate = await startBurnrate({ ...around.env, BURNRATE_CONFIG_WATCH: 'off' });
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

// The same without a signal: the file is rewritten the way editors save (a new file renamed over
// the old one), and `burnrate start` notices, checks it with config check's one-pass check, logs
// what changed, and shows the hash, load time and any refusal on /healthz.
describe('burnrate start reloads its config when the file changes', () => {
  const API_TOKEN = 'reload-test-operator-token';
  let around: Surroundings;
  let burnrate: BurnrateProcess | undefined;
  const configPath = () => around.env.BURNRATE_CONFIG as string;
  const save = async (text: string): Promise<void> => {
    await writeFile(`${configPath()}.tmp`, text);
    await rename(`${configPath()}.tmp`, configPath());
  };
  const logged = async (since: number, msg: string): Promise<Record<string, unknown>> => {
    let found: Record<string, unknown> | undefined;
    await waitUntil(
      () => {
        found = burnrate!.logs
          .slice(since)
          .filter((l) => l.startsWith('{'))
          .map((l) => JSON.parse(l) as Record<string, unknown>)
          .find((l) => l.msg === msg);
        return found !== undefined;
      },
      { timeoutMs: 10_000, message: `a log line "${msg}"` },
    );
    return found as Record<string, unknown>;
  };
  interface ConfigHealth {
    path: string;
    hash: string;
    loaded_at: string;
    last_error?: { at: string; message: string; problems: { path: string; message: string }[] };
  }
  const health = async (): Promise<ConfigHealth> => {
    const res = await fetch(`${burnrate!.url}/healthz`, { headers: { authorization: `Bearer ${API_TOKEN}` } });
    return ((await res.json()) as { config: ConfigHealth }).config;
  };
  const event = (id: string, minute: number, cost: number) => ({
    event_id: id,
    occurred_at: new Date(Date.UTC(2026, 10, 27, 10, minute)).toISOString(),
    developer_email: 'alice@acme.com',
    model: 'claude-opus-4-5',
    session_id: 'watched-session',
    cost_usd: cost,
  });

  beforeAll(async () => {
    around = await startSurroundings();
    burnrate = await startBurnrate({ ...around.env, BURNRATE_API_TOKEN: API_TOKEN });
  });

  afterAll(async () => {
    await burnrate?.stop();
    await around?.close();
  });

  it('applies an edited threshold to the next event, refuses an invalid file while the old config serves, and says so on /healthz', async () => {
    const url = `${burnrate!.url}/v1/events`;
    const first = await health();
    expect(first).toMatchObject({ path: configPath(), hash: expect.stringMatching(/^[0-9a-f]{64}$/) as unknown });
    // $10 under the $25 warning cap: nothing to say.
    expect((await postJson(url, [event('w-1', 0, 10)])).status).toBe(200);

    let since = burnrate!.logs.length;
    await save(
      TEST_CONFIG.replace('session_cost: { warning_usd: 25, critical_usd: 100 }', 'session_cost: { warning_usd: 5, critical_usd: 100 }'),
    );
    const reloaded = await logged(since, 'config reloaded');
    expect(reloaded).toMatchObject({ trigger: 'file', changes: ['detectors.session_cost.warning_usd: 25 → 5'] });
    const second = await health();
    expect(second.hash).not.toBe(first.hash);
    expect(Date.parse(second.loaded_at)).toBeGreaterThan(Date.parse(first.loaded_at));
    expect(second.last_error).toBeUndefined();

    // The next event is judged under the $5 cap, with the $10 counted before the reload.
    expect((await postJson(url, [event('w-2', 1, 1)])).status).toBe(200);
    const warning = await around.slack.waitFor((m) => m.channelName === '#payments-ai-spend', 15_000);
    expect(warning.text).toMatch(/warning/i);

    since = burnrate!.logs.length;
    await save(
      TEST_CONFIG.replace('members: [alice@acme.com, bob@acme.com]', 'members: [alice@acme.com, bob@acme.com]\n    colour: blue').replace(
        'notify: [team]',
        'notify: [team, finops]',
      ),
    );
    const refused = await logged(since, 'config reload refused; the config in use stays');
    expect(refused.level).toBe('error');
    expect(refused.report).toEqual(expect.stringContaining('2 problems found.'));
    const third = await health();
    expect(third).toMatchObject({ hash: second.hash, loaded_at: second.loaded_at });
    expect(third.last_error?.problems.map((p) => `${p.path}: ${p.message}`)).toEqual([
      'teams[0]: unknown key "colour"',
      'routes.rules[0].notify[1]: notifies finops, but finops has no receivers (finops.slack, finops.email or finops.receivers)',
    ]);
    // Still serving, under the last valid config.
    expect((await postJson(url, [event('w-3', 2, 1)])).status).toBe(200);

    expect(await burnrate!.stop()).toBe(0);
    burnrate = undefined;
    const store = await createChdbStore({ dataDir: around.chdbDir, log: createLogger({ level: 'silent' }) });
    try {
      const [anomaly] = await store.listAnomalies({ kind: 'session_cost' });
      expect(anomaly).toMatchObject({ subject: { session: 'watched-session' }, observed: { value: 11 } });
    } finally {
      await store.close();
    }
  });
});
