import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const REPO = fileURLToPath(new URL('../../../', import.meta.url));

export type ServiceName = 'ingest' | 'detector' | 'notifier' | 'sink';
/** Every standalone process: the pipeline's services and the provider poller. */
export type StandaloneName = ServiceName | 'poller';

export interface ServiceProcess {
  name: StandaloneName;
  child: ChildProcess;
  /** Fields of the "<name> is running/listening" line (port, group, store…). */
  ready: Record<string, unknown>;
  /** Every line the process printed so far (stdout and stderr). */
  logs: string[];
  /** Parsed JSON log lines whose msg is `msg`. */
  logged(msg: string): Record<string, unknown>[];
  /** SIGTERM and wait for the exit; resolves with the exit code. */
  stop(): Promise<number | null>;
}

/**
 * Runs `node services/<name>/src/main.ts` (the standalone service, as docker-compose runs it) and
 * waits for its ready line. Only PATH and the given env reach it, so nothing leaks in from the
 * test runner's environment.
 */
export async function startService(name: StandaloneName, env: Record<string, string>, timeoutMs = 30_000): Promise<ServiceProcess> {
  const child = spawn(process.execPath, [`${REPO}services/${name}/src/main.ts`], {
    env: { PATH: process.env.PATH ?? '', BURNRATE_LOG_LEVEL: 'info', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const logs: string[] = [];
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const readyLine = new RegExp(`"msg":"${name} is (running|listening)"`);
  const ready = await new Promise<Record<string, unknown>>((resolve, reject) => {
    const timer = setTimeout(() => {
      // Not left behind: a service that never got ready would outlive the test run.
      child.kill('SIGKILL');
      reject(new Error(`${name} was not ready within ${timeoutMs} ms:\n${logs.join('\n')}`));
    }, timeoutMs);
    const lines = (onLine: (line: string) => void) => {
      let buffered = '';
      return (chunk: Buffer): void => {
        buffered += chunk.toString();
        let nl: number;
        while ((nl = buffered.indexOf('\n')) >= 0) {
          onLine(buffered.slice(0, nl));
          buffered = buffered.slice(nl + 1);
        }
      };
    };
    child.stdout?.on(
      'data',
      lines((line) => {
        logs.push(line);
        if (readyLine.test(line)) {
          clearTimeout(timer);
          resolve(JSON.parse(line) as Record<string, unknown>);
        }
      }),
    );
    child.stderr?.on(
      'data',
      lines((line) => logs.push(line)),
    );
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`${name} exited with ${code} before it was ready:\n${logs.join('\n')}`));
    });
  });
  return {
    name,
    child,
    ready,
    logs,
    logged: (msg) =>
      logs
        .filter((l) => l.startsWith('{') && l.includes(`"msg":${JSON.stringify(msg)}`))
        .map((l) => JSON.parse(l) as Record<string, unknown>),
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      return exited;
    },
  };
}

/** Runs the burnrate CLI to completion; resolves with its exit code and output. */
export async function runCli(
  args: readonly string[],
  env: Record<string, string>,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, [`${REPO}services/cli/src/main.ts`, ...args], {
    env: { PATH: process.env.PATH ?? '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
  child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
  const code = await new Promise<number | null>((resolve) => child.once('exit', (c) => resolve(c)));
  return { code, stdout, stderr };
}
