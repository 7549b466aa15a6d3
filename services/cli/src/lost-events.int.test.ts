import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type BurnrateProcess,
  postJson,
  startBurnrate,
  startSurroundings,
  type Surroundings,
  TEST_CONFIG,
  waitForCaughtUp,
} from '../test-support/burnrate-process.ts';

const FIXTURES = new URL('../../ingest/fixtures/claude-code-otlp/', import.meta.url);
const SESSION = '28b333cc-5c7f-40da-90a0-4dca26f1b4f5';
const MINUTE_NS = 60_000_000_000n;

type Json = Record<string, unknown>;
type KeyValue = { key: string; value: Json };
interface Resource {
  resource: { attributes: KeyValue[] };
}
interface LogsBody {
  resourceLogs: (Resource & { scopeLogs: { logRecords: (Json & { timeUnixNano: string; attributes: KeyValue[] })[] }[] })[];
}
interface MetricsBody {
  resourceMetrics: (Resource & { scopeMetrics: { metrics: { sum?: { dataPoints: Json[] } }[] }[] })[];
}

const signedInAsAlice = (r: Resource): void => {
  r.resource.attributes.push({ key: 'user.email', value: { stringValue: 'alice@acme.com' } });
};

/** Claude Code's captured prompt (its records 20 s into `minute`) in `session`, signed in as alice. */
function logsAt(fixture: string, base: bigint, minute: number, session = SESSION): LogsBody {
  const body = JSON.parse(fixture.replaceAll(SESSION, session)) as LogsBody;
  const captured = 1795901966345000000n; // the capture's first record
  const shift = base + BigInt(minute) * MINUTE_NS + 20_000_000_000n - captured;
  for (const rl of body.resourceLogs) {
    signedInAsAlice(rl);
    for (const record of rl.scopeLogs.flatMap((s) => s.logRecords)) {
      const time = BigInt(record.timeUnixNano) + shift;
      record.timeUnixNano = String(time);
      record.observedTimeUnixNano = String(time);
      for (const attr of record.attributes) {
        if (attr.key === 'event.timestamp') attr.value = { stringValue: new Date(Number(time / 1_000_000n)).toISOString() };
        // A session numbers its events: each minute's are new ones.
        if (attr.key === 'event.sequence') attr.value = { intValue: Number(attr.value.intValue) + minute * 10 };
      }
    }
  }
  return body;
}

/** Claude Code's captured metrics export (delta temporality) for the interval of `minute`, signed in as alice. */
function metricsAt(fixture: string, base: bigint, minute: number): MetricsBody {
  const body = JSON.parse(fixture) as MetricsBody;
  for (const rm of body.resourceMetrics) {
    signedInAsAlice(rm);
    for (const point of rm.scopeMetrics.flatMap((s) => s.metrics).flatMap((m) => m.sum?.dataPoints ?? [])) {
      point.startTimeUnixNano = String(base + BigInt(minute) * MINUTE_NS);
      point.timeUnixNano = String(base + BigInt(minute + 1) * MINUTE_NS);
    }
  }
  return body;
}

// Claude Code's own logs and metrics through the real OTLP/HTTP receivers of `burnrate start`:
// the log records of two of six minutes never arrive (the receiver refused them, and Claude Code
// does not retry), the metrics of all six do.
describe('burnrate start (embedded): log records lost on the way, seen in the metrics', () => {
  let around: Surroundings;
  let burnrate: BurnrateProcess | undefined;

  beforeAll(async () => {
    around = await startSurroundings();
    // Each call of the capture costs $0.029: a floor the two lost calls can pass.
    await writeFile(
      join(around.dir.path, 'burnrate.yaml'),
      TEST_CONFIG.replace('detectors:\n', 'detectors:\n  lost_events: { min_impact_usd: 0.05 }\n'),
    );
    burnrate = await startBurnrate(around.env);
  });

  afterAll(async () => {
    await burnrate?.stop();
    await around?.close();
  });

  it('stores one info anomaly for the session, sends nothing, and says so on /healthz', async () => {
    const url = burnrate?.url ?? '';
    const logs = await readFile(new URL('logs.json', FIXTURES), 'utf8');
    const metrics = await readFile(new URL('metrics.json', FIXTURES), 'utf8');
    // Whole minutes, half an hour ago: nothing is ahead of the ingest clock.
    const base = (BigInt(Math.floor(Date.now() / 60_000)) - 30n) * MINUTE_NS;
    for (let minute = 0; minute < 6; minute++) {
      if (minute !== 2 && minute !== 3) expect((await postJson(`${url}/v1/logs`, logsAt(logs, base, minute))).status).toBe(200);
      expect((await postJson(`${url}/v1/metrics`, metricsAt(metrics, base, minute))).status).toBe(200);
    }
    // Alice's next session, minutes later: event time moves past the grace period of the last interval.
    expect((await postJson(`${url}/v1/logs`, logsAt(logs, base, 9, 'b7e0f1c2-next-session'))).status).toBe(200);
    await waitForCaughtUp(url);

    const listed = (await (await fetch(`${url}/api/anomalies`)).json()) as { anomalies: Json[] };
    expect(listed.anomalies).toHaveLength(1);
    const [lost] = listed.anomalies;
    expect(lost).toMatchObject({
      kind: 'lost_events',
      severity: 'info',
      version: 1,
      subject: { org: 'acme', team: 'payments', developer: 'alice@acme.com', session: SESSION, model: 'claude-sonnet-4-5' },
      // Six calls of $0.02895 in the metrics, four in the events.
      impact_usd: 0.0579,
      observed: { value: 0.1158, unit: 'usd' },
      expected: { value: 0.1737, unit: 'usd' },
    });
    expect(lost?.summary).toMatch(/^Claude Code reported \$0\.17 for session 28b333cc… of alice@acme\.com \(claude-sonnet-4-5\)/);
    // Information, below routes.min_severity: stored and listed, never sent.
    expect(around.slack.messages).toEqual([]);
    expect(around.smtp.messages).toEqual([]);

    const health = (await (await fetch(`${url}/healthz`)).json()) as Json;
    expect(health).toMatchObject({
      status: 'ok',
      lost_events: {
        sessions: 1,
        usd: 0.06,
        last: { org: 'acme', developer: 'alice@acme.com', session: SESSION, at: lost?.detected_at, usd: 0.06 },
      },
    });
  });
});
