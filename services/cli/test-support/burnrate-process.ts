import { type ChildProcess, spawn } from 'node:child_process';
import { hash } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  startSlackStandIn,
  startSmtpServer,
  tempDir,
  type SlackStandIn,
  type TempDir,
  type TestSmtpServer,
  waitUntil,
} from '@burnrate/testing';

const MAIN = fileURLToPath(new URL('../src/main.ts', import.meta.url));

export interface BurnrateProcess {
  port: number;
  url: string;
  /** `http://127.0.0.1:<port>` of the OTLP/gRPC receivers, when they run. */
  grpcUrl: string | undefined;
  child: ChildProcess;
  /** Every log line the process printed so far. */
  logs: string[];
  /** SIGTERM and wait for a clean exit; resolves with the exit code. */
  stop(): Promise<number | null>;
  /** SIGKILL: no shutdown code runs. */
  kill9(): Promise<void>;
}

/**
 * Runs `burnrate start` as its own process (chdb binds one data directory per process, and a
 * crash test needs a process to kill) and waits until it logs that it is listening.
 */
export async function startBurnrate(env: Record<string, string>, timeoutMs = 20_000): Promise<BurnrateProcess> {
  const child = spawn(process.execPath, [MAIN, 'start'], {
    // Ports the system picks unless a test names them: test files run side by side.
    env: { PATH: process.env.PATH ?? '', BURNRATE_PORT: '0', BURNRATE_OTLP_GRPC_PORT: '0', BURNRATE_LOG_LEVEL: 'info', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const logs: string[] = [];
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const { port, otlpGrpcPort } = await new Promise<{ port: number; otlpGrpcPort?: number | string }>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`burnrate did not start within ${timeoutMs} ms:\n${logs.join('\n')}`)), timeoutMs);
    let buffered = '';
    const onData = (chunk: Buffer): void => {
      buffered += chunk.toString();
      let nl: number;
      while ((nl = buffered.indexOf('\n')) >= 0) {
        const line = buffered.slice(0, nl);
        buffered = buffered.slice(nl + 1);
        logs.push(line);
        if (line.includes('"burnrate is listening"')) {
          clearTimeout(timer);
          resolve(JSON.parse(line) as { port: number; otlpGrpcPort?: number | string });
        }
      }
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', (chunk: Buffer) => logs.push(chunk.toString()));
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`burnrate exited with ${code} before listening:\n${logs.join('\n')}`));
    });
  });
  return {
    port,
    url: `http://127.0.0.1:${port}`,
    grpcUrl: typeof otlpGrpcPort === 'number' ? `http://127.0.0.1:${otlpGrpcPort}` : undefined,
    child,
    logs,
    stop: async () => {
      child.kill('SIGTERM');
      return exited;
    },
    kill9: async () => {
      child.kill('SIGKILL');
      await exited;
    },
  };
}

/**
 * Waits until every stage of `burnrate start` has processed everything in its log: /healthz shows
 * lag 0 for the sink, detector, team detector and notifier, on two reads in a row. A detector
 * hands a batch's output to the bus just after the batch, in the background, so one read can fall
 * between the detector reaching 0 and its anomaly reaching the notifier's log; the next read sees
 * it. Then whatever the notifier was going to send has been sent, and a count of messages is final.
 */
export async function waitForCaughtUp(url: string, timeoutMs = 30_000): Promise<void> {
  let zeros = 0;
  await waitUntil(
    async () => {
      const health = (await (await fetch(`${url}/healthz`)).json()) as { lag: Record<string, number> };
      zeros = Object.values(health.lag).every((l) => l === 0) ? zeros + 1 : 0;
      return zeros >= 2;
    },
    { timeoutMs, intervalMs: 50, message: 'every stage of burnrate start caught up (lag 0 on /healthz twice)' },
  );
}

/** The key of TEST_CONFIG's one source; `INGEST_AUTH` is the header that presents it. */
export const TEST_INGEST_KEY = 'brk_test_4c9f1e0b7a2d5c8e3f6a9b1d4e7c0a2f';
export const INGEST_AUTH = { authorization: `Bearer ${TEST_INGEST_KEY}` };

/** A POST with INGEST_AUTH unless `headers` says otherwise; the answer's status and parsed body. */
export async function postJson(
  url: string,
  body: unknown,
  headers: Record<string, string> = {},
): Promise<{ status: number; body: unknown }> {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...INGEST_AUTH, ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
  const text = await res.text();
  let parsed: unknown = text;
  try {
    parsed = JSON.parse(text);
  } catch {
    // Some answers (a proxy's, an empty 204) are not JSON; keep the text.
  }
  return { status: res.status, body: parsed };
}

export const TEST_CONFIG = `
org: acme
timezone: Europe/Berlin
sources:
  - name: test-client
    keys: [${hash('sha256', TEST_INGEST_KEY, 'hex')}]
    rate_limit: { requests_per_second: 100000, burst: 100000 }
teams:
  - id: payments
    timezone: Europe/Berlin
    members: [alice@acme.com, bob@acme.com]
    slack: { channel: "#payments-ai-spend" }
    email: [payments-leads@acme.com]
detectors:
  session_cost: { warning_usd: 25, critical_usd: 100 }
routes:
  # One message per anomaly version as soon as it is due: these tests count what each version
  # sends (grouping and its timing have tests of their own).
  group_by: [anomaly]
  group_wait: 0s
  group_interval: 0s
  rules:
    - match: { severity: [warning, critical] }
      notify: [team]
`;

export interface Surroundings {
  dir: TempDir;
  smtp: TestSmtpServer;
  slack: SlackStandIn;
  /** Environment for `startBurnrate`: the test config, a data dir, SMTP and Slack pointed at the stand-ins. */
  env: Record<string, string>;
  /** Where `burnrate start` keeps its embedded ClickHouse, to open it once the process stopped. */
  chdbDir: string;
  close(): Promise<void>;
}

/** What a burnrate process talks to in these tests: a data dir with TEST_CONFIG, a real SMTP server, a Slack stand-in. */
export async function startSurroundings(): Promise<Surroundings> {
  const dir = await tempDir();
  const smtp = await startSmtpServer();
  const slack = await startSlackStandIn();
  const configPath = join(dir.path, 'burnrate.yaml');
  await writeFile(configPath, TEST_CONFIG);
  return {
    dir,
    smtp,
    slack,
    chdbDir: join(dir.path, 'data', 'chdb'),
    env: {
      BURNRATE_CONFIG: configPath,
      BURNRATE_DATA_DIR: join(dir.path, 'data'),
      SMTP_URL: smtp.url,
      SMTP_FROM: 'burnrate@acme.com',
      SLACK_BOT_TOKEN: slack.token,
      SLACK_API_URL: slack.url,
    },
    close: async () => {
      await slack.close();
      await smtp.close();
      await dir.cleanup();
    },
  };
}
