import { type ChildProcess, spawn } from 'node:child_process';
import { access, mkdir, mkdtemp, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { acquireLockFile } from '../lock-file.ts';

/**
 * An OpenTelemetry Collector built for Burnrate's tests and benchmarks, without Docker: the
 * collector's own builder (ocb) from the Go module proxy compiles a distribution of the
 * components in `builder.yaml` on first use, cached like the Kafka jars (infra/otelcol/.cache,
 * gitignored). Go's module and build caches make a rebuild on a fresh clone a link, not a compile.
 */

export const OTELCOL_VERSION = '0.165.0';
const DEFAULT_CACHE_DIR = join(import.meta.dirname, '.cache');
const MANIFEST = join(import.meta.dirname, 'builder.yaml');
const BINARY = 'otelcol-burnrate';
const BUILD_TIMEOUT_MS = 30 * 60_000;
const READY_LINE = 'Everything is ready';

export interface OtelcolLog {
  info(message: string): void;
}
const silentLog: OtelcolLog = { info: () => {} };

/**
 * The collector binary, built on first use. One process builds at a time (test workers wait);
 * the binary is renamed into place only once the build succeeded.
 */
export async function resolveOtelcol(options: { cacheDir?: string; go?: string; log?: OtelcolLog } = {}): Promise<string> {
  const cacheDir = options.cacheDir ?? DEFAULT_CACHE_DIR;
  const log = options.log ?? silentLog;
  const binary = join(cacheDir, `otelcol-${OTELCOL_VERSION}`, BINARY);
  if (await exists(binary)) return binary;

  await mkdir(cacheDir, { recursive: true });
  const releaseLock = await acquireLockFile(join(cacheDir, `.build-${OTELCOL_VERSION}.lock`), {
    timeoutMs: BUILD_TIMEOUT_MS,
    doing: 'building the collector',
    log,
  });
  try {
    if (await exists(binary)) return binary;
    for (const name of await readdir(cacheDir)) {
      if (name.startsWith('.staging-')) await rm(join(cacheDir, name), { recursive: true, force: true });
    }
    const staging = await mkdtemp(join(cacheDir, `.staging-${OTELCOL_VERSION}-`));
    try {
      const manifest = (await readFile(MANIFEST, 'utf8')).replace('${OUTPUT_PATH}', join(staging, 'src'));
      await writeFile(join(staging, 'builder.yaml'), manifest);
      log.info(`building the OpenTelemetry Collector ${OTELCOL_VERSION} with ocb into ${binary} (first run only)`);
      const started = Date.now();
      const go = options.go ?? (await findGo());
      await run(go, ['run', `go.opentelemetry.io/collector/cmd/builder@v${OTELCOL_VERSION}`, '--config', join(staging, 'builder.yaml')], {
        timeoutMs: BUILD_TIMEOUT_MS,
        what: 'the collector builder (ocb)',
        env: { PATH: `${join(go, '..')}:${process.env.PATH ?? ''}` },
      });
      const built = join(staging, 'src', BINARY);
      if (!(await exists(built))) throw new Error(`ocb finished but built no ${built}`);
      await mkdir(join(cacheDir, `otelcol-${OTELCOL_VERSION}`), { recursive: true });
      await rename(built, binary);
      log.info(`built the collector in ${Math.round((Date.now() - started) / 1000)} s`);
    } finally {
      await rm(staging, { recursive: true, force: true });
    }
  } finally {
    await releaseLock();
  }
  return binary;
}

export interface RunningOtelcol {
  pid: number;
  /** Every line the collector logged so far. */
  logs: string[];
  /** SIGTERM: the collector drains what it can and exits. */
  stop(): Promise<number | null>;
  /** SIGKILL: no shutdown code runs (what a persistent queue must survive). */
  kill9(): Promise<void>;
}

/** Starts the collector on a config file and waits until it says it is ready. */
export async function startOtelcol(
  configPath: string,
  options: { binary?: string; env?: Record<string, string>; readyTimeoutMs?: number; log?: OtelcolLog } = {},
): Promise<RunningOtelcol> {
  const binary = options.binary ?? (await resolveOtelcol({ ...(options.log ? { log: options.log } : {}) }));
  const child: ChildProcess = spawn(binary, ['--config', configPath], {
    env: { PATH: process.env.PATH ?? '', ...options.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const logs: string[] = [];
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  await new Promise<void>((resolve, reject) => {
    const timeoutMs = options.readyTimeoutMs ?? 30_000;
    const timer = setTimeout(() => reject(new Error(`the collector was not ready within ${timeoutMs} ms:\n${logs.join('\n')}`)), timeoutMs);
    const onLine = (line: string): void => {
      logs.push(line);
      if (line.includes(READY_LINE)) {
        clearTimeout(timer);
        resolve();
      }
    };
    for (const stream of [child.stdout, child.stderr])
      if (stream) createInterface({ input: stream, crlfDelay: Infinity }).on('line', onLine);
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`the collector exited with ${code} before it was ready:\n${logs.join('\n')}`));
    });
  });
  return {
    pid: child.pid as number,
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

async function findGo(): Promise<string> {
  for (const dir of [...(process.env.PATH ?? '').split(':'), '/usr/local/go/bin']) {
    if (dir !== '' && (await exists(join(dir, 'go')))) return join(dir, 'go');
  }
  throw new Error('no Go toolchain (go) on PATH or in /usr/local/go/bin: the collector is built with it');
}

async function exists(path: string): Promise<boolean> {
  try {
    await access(path);
    return true;
  } catch {
    return false;
  }
}

function run(command: string, args: string[], options: { timeoutMs: number; what: string; env: Record<string, string> }): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { env: { ...process.env, ...options.env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (c: Buffer) => (output = (output + c.toString()).slice(-20_000)));
    child.stderr.on('data', (c: Buffer) => (output = (output + c.toString()).slice(-20_000)));
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs);
    child.once('error', (err) => {
      clearTimeout(timer);
      reject(new Error(`${options.what} could not run: ${err.message}`, { cause: err }));
    });
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      if (code === 0) resolve();
      else reject(new Error(`${options.what} failed (${signal ?? `exit ${code}`}):\n${output}`));
    });
  });
}
