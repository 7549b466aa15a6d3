import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, openSync, readFileSync } from 'node:fs';
import { access, mkdir, mkdtemp, readFile, readdir, rename, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Kafka, logLevel } from 'kafkajs';
import { acquireLockFile, isAlive } from '../lock-file.ts';

// The newest 4.x that Maven Central serves here. kafkajs 2.2.4 negotiates API versions that
// Kafka 4 still accepts (see README.md), so there is no reason to stay on 3.x.
export const KAFKA_VERSION = '4.4.0';
// Kafka 4 logs through slf4j 1.7 and ships log4j2 without a binding; this is the binding its
// own distribution uses, at the log4j version kafka_2.13 pulls in.
const LOG4J_VERSION = '2.25.5';
const DEPENDENCY_PLUGIN_VERSION = '3.8.1';

const DEFAULT_CACHE_DIR = join(import.meta.dirname, '.cache');
const READY_TIMEOUT_MS = 60_000;
const STOP_TIMEOUT_MS = 20_000;
const MAVEN_TIMEOUT_MS = 300_000;
const START_ATTEMPTS = 3;

export interface LocalKafkaLog {
  info(message: string): void;
  warn(message: string): void;
}

export interface LocalKafkaOptions {
  /** Working directory for config, logs and data. Created in the OS temp dir when omitted; only a created one is removed by stop(). */
  dir?: string;
  /** Where the Maven-resolved jars are kept between runs. */
  cacheDir?: string;
  log?: LocalKafkaLog;
  /** The java executable (Kafka 4 needs Java 17+). */
  java?: string;
  mvn?: string;
  readyTimeoutMs?: number;
  /** Let the broker outlive this process (the CLI's `start`); stop() still works while this process lives. */
  detached?: boolean;
  /**
   * Start again on what an earlier broker left in `dir` (topics, offsets, committed groups) and
   * on its ports, as a restarted server would: clients keep their bootstrap address. Needs `dir`
   * and `ports`; a taken port fails instead of moving elsewhere.
   */
  restart?: { port: number; controllerPort: number };
  /** Broker settings over the defaults below (server.properties keys). */
  brokerConfig?: Readonly<Record<string, string>>;
}

export interface LocalKafka {
  /** `127.0.0.1:PORT`, the value for KAFKA_BROKERS. */
  brokers: string;
  port: number;
  controllerPort: number;
  pid: number;
  dir: string;
  stop(): Promise<void>;
}

const silentLog: LocalKafkaLog = { info: () => {}, warn: () => {} };

export async function startLocalKafka(options: LocalKafkaOptions = {}): Promise<LocalKafka> {
  const log = options.log ?? silentLog;
  const java = options.java ?? 'java';
  if (options.restart !== undefined && options.dir === undefined) {
    throw new Error('restart needs the dir of the broker it restarts');
  }
  const ownsDir = options.dir === undefined;
  const dir = options.dir ?? (await mkdtemp(join(tmpdir(), 'burnrate-kafka-')));
  try {
    const classpath = await resolveKafkaClasspath({ cacheDir: options.cacheDir, mvn: options.mvn, log });
    let lastError: unknown;
    for (let attempt = 1; attempt <= START_ATTEMPTS; attempt++) {
      try {
        return await startOnce({ dir, ownsDir, classpath, java, log, options });
      } catch (err) {
        lastError = err;
        // A free port picked here can be taken by someone else before the JVM binds it; only
        // that race is worth another attempt; a restart must keep its ports.
        if (!(err instanceof PortTakenError) || options.restart !== undefined) throw err;
        log.warn(`Kafka could not bind its ports (attempt ${attempt} of ${START_ATTEMPTS}); retrying with new ones`);
      }
    }
    throw lastError;
  } catch (err) {
    if (ownsDir) await rm(dir, { recursive: true, force: true });
    throw err;
  }
}

class PortTakenError extends Error {}

interface StartOnceInput {
  dir: string;
  ownsDir: boolean;
  classpath: string;
  java: string;
  log: LocalKafkaLog;
  options: LocalKafkaOptions;
}

async function startOnce({ dir, ownsDir, classpath, java, log, options }: StartOnceInput): Promise<LocalKafka> {
  const restart = options.restart;
  const { port, controllerPort } = restart ?? (await freePortPair());
  const dataDir = join(dir, 'data');
  if (restart === undefined) {
    // The formatted metadata log records the controller endpoint, so a retry with new ports
    // must start from empty storage.
    for (const stale of [dataDir, join(dir, 'server.log'), join(dir, 'stdout.log')]) await rm(stale, { recursive: true, force: true });
  } else {
    try {
      await access(join(dataDir, 'meta.properties'));
    } catch (err) {
      throw new Error(`cannot restart Kafka: ${dataDir} holds no formatted storage`, { cause: err });
    }
  }
  await mkdir(dataDir, { recursive: true });
  const propertiesFile = join(dir, 'server.properties');
  const log4jFile = join(dir, 'log4j2.properties');
  await writeFile(propertiesFile, serverProperties({ port, controllerPort, dataDir, brokerConfig: options.brokerConfig }));
  await writeFile(log4jFile, log4jProperties(join(dir, 'server.log')));
  // C1-only JIT and the serial collector roughly halve start-up on a 2-core machine and leave
  // cores to the tests; a test broker never runs long enough to miss C2.
  const jvm = [
    '-Xms128m',
    '-Xmx512m',
    '-XX:TieredStopAtLevel=1',
    '-XX:+UseSerialGC',
    `-Dlog4j2.configurationFile=${log4jFile}`,
    '-cp',
    classpath,
  ];

  const started = Date.now();
  if (restart === undefined) {
    await run(java, [...jvm, 'kafka.tools.StorageTool', 'format', '--standalone', '-t', newClusterId(), '-c', propertiesFile], {
      timeoutMs: 60_000,
      what: 'kafka-storage format',
    });
  }

  const outFile = join(dir, 'stdout.log');
  const out = openSync(outFile, 'a');
  let child: ChildProcess;
  try {
    child = spawn(java, [...jvm, 'kafka.Kafka', propertiesFile], {
      stdio: ['ignore', out, out],
      detached: options.detached === true,
    });
  } finally {
    closeSync(out);
  }
  const pid = await spawned(child, java);
  let exited = child.exitCode !== null || child.signalCode !== null;
  const exit = new Promise<void>((resolve) => {
    child.once('exit', () => {
      exited = true;
      resolve();
    });
  });
  // A test runner that dies mid-suite must not leave a JVM holding ports on a CI machine.
  const killOnExit = (): void => {
    if (!exited) child.kill('SIGKILL');
  };
  if (options.detached !== true) process.once('exit', killOnExit);

  const brokers = `127.0.0.1:${port}`;
  try {
    await waitForBroker(brokers, {
      timeoutMs: options.readyTimeoutMs ?? READY_TIMEOUT_MS,
      isAlive: () => !exited,
    });
  } catch (err) {
    if (!exited) {
      child.kill('SIGKILL');
      await exit;
    }
    process.removeListener('exit', killOnExit);
    const tail = await logTail(dir);
    if (/Address already in use|BindException/.test(tail)) throw new PortTakenError(tail);
    throw new Error(`Kafka ${KAFKA_VERSION} did not become ready at ${brokers}: ${(err as Error).message}\n${tail}`, {
      cause: err,
    });
  }
  log.info(`Kafka ${KAFKA_VERSION} ready at ${brokers} in ${Date.now() - started} ms (pid ${pid}, dir ${dir})`);
  if (options.detached === true) child.unref();

  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> => {
    stopping ??= (async () => {
      if (!exited) {
        child.kill('SIGTERM');
        const graceful = await Promise.race([exit.then(() => true), sleep(STOP_TIMEOUT_MS, false, { ref: false })]);
        if (!graceful) {
          log.warn(`Kafka (pid ${pid}) did not stop within ${STOP_TIMEOUT_MS} ms of SIGTERM; killing it`);
          child.kill('SIGKILL');
          await exit;
        }
      }
      process.removeListener('exit', killOnExit);
      if (ownsDir) await rm(dir, { recursive: true, force: true });
    })();
    return stopping;
  };
  return { brokers, port, controllerPort, pid, dir, stop };
}

function serverProperties(p: {
  port: number;
  controllerPort: number;
  dataDir: string;
  brokerConfig?: Readonly<Record<string, string>> | undefined;
}): string {
  const defaults = [
    'process.roles=broker,controller',
    'node.id=1',
    `controller.quorum.bootstrap.servers=127.0.0.1:${p.controllerPort}`,
    `listeners=PLAINTEXT://127.0.0.1:${p.port},CONTROLLER://127.0.0.1:${p.controllerPort}`,
    `advertised.listeners=PLAINTEXT://127.0.0.1:${p.port}`,
    'controller.listener.names=CONTROLLER',
    'inter.broker.listener.name=PLAINTEXT',
    'listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT',
    `log.dirs=${p.dataDir}`,
    // One node: every internal topic must fit on it.
    'offsets.topic.replication.factor=1',
    'offsets.topic.num.partitions=3',
    'transaction.state.log.replication.factor=1',
    'transaction.state.log.min.isr=1',
    'transaction.state.log.num.partitions=3',
    'share.coordinator.state.topic.replication.factor=1',
    'share.coordinator.state.topic.min.isr=1',
    // Tests join a group and expect an assignment at once, not after the default 3 s wait.
    'group.initial.rebalance.delay.ms=0',
    // Topics are declared as code; a typo in a topic name must fail, not create a topic.
    'auto.create.topics.enable=false',
    'num.partitions=1',
  ];
  const overridden = new Set(Object.keys(p.brokerConfig ?? {}));
  const lines = defaults.filter((line) => line.startsWith('#') || !overridden.has(line.slice(0, line.indexOf('='))));
  for (const [key, value] of Object.entries(p.brokerConfig ?? {})) lines.push(`${key}=${value}`);
  return [...lines, ''].join('\n');
}

function log4jProperties(file: string): string {
  return [
    'status = warn',
    'appender.file.type = File',
    'appender.file.name = file',
    `appender.file.fileName = ${file}`,
    'appender.file.layout.type = PatternLayout',
    'appender.file.layout.pattern = [%d] %p %m (%c)%n',
    'rootLogger.level = INFO',
    'rootLogger.appenderRef.file.ref = file',
    'logger.kafka-config.name = org.apache.kafka.common.config.AbstractConfig',
    'logger.kafka-config.level = WARN',
    '',
  ].join('\n');
}

/** A Kafka Uuid as `kafka-storage random-uuid` prints it, without paying for a JVM start. */
function newClusterId(): string {
  for (;;) {
    const id = randomBytes(16).toString('base64url');
    // Kafka rejects ids that would read as a command-line flag.
    if (!id.startsWith('-')) return id;
  }
}

/**
 * The broker's classpath, resolving `kafka_2.13` and its runtime dependencies with Maven on
 * first use. One process resolves at a time (Maven 3.8 does not lock its local repository);
 * the jars land in a staging folder renamed into place only when Maven succeeds, so parallel
 * test workers and interrupted runs never see half a set.
 */
export async function resolveKafkaClasspath(options: { cacheDir?: string; mvn?: string; log?: LocalKafkaLog } = {}): Promise<string> {
  const cacheDir = options.cacheDir ?? DEFAULT_CACHE_DIR;
  const log = options.log ?? silentLog;
  const home = join(cacheDir, `kafka-${KAFKA_VERSION}`);
  const lib = join(home, 'lib');
  if (await hasKafkaJar(lib)) return join(lib, '*');

  await mkdir(cacheDir, { recursive: true });
  const releaseLock = await acquireLockFile(join(cacheDir, `.resolve-${KAFKA_VERSION}.lock`), {
    timeoutMs: MAVEN_TIMEOUT_MS,
    doing: 'resolving Kafka jars',
    log,
  });
  try {
    // Whoever held the lock before us may have finished the job.
    if (await hasKafkaJar(lib)) return join(lib, '*');
    // Leftovers of a run that was killed mid-download; nobody else resolves while we hold the lock.
    for (const name of await readdir(cacheDir)) {
      if (name.startsWith('.staging-')) await rm(join(cacheDir, name), { recursive: true, force: true });
    }
    await rm(home, { recursive: true, force: true });
    const staging = await mkdtemp(join(cacheDir, `.staging-${KAFKA_VERSION}-`));
    try {
      await writeFile(join(staging, 'pom.xml'), pom());
      log.info(`resolving Kafka ${KAFKA_VERSION} jars with Maven into ${home} (first run only)`);
      const started = Date.now();
      await run(
        options.mvn ?? 'mvn',
        [
          '-q',
          '-B',
          '-f',
          join(staging, 'pom.xml'),
          'dependency:copy-dependencies',
          `-DoutputDirectory=${join(staging, 'lib')}`,
          '-DincludeScope=runtime',
        ],
        { timeoutMs: MAVEN_TIMEOUT_MS, what: 'mvn dependency:copy-dependencies' },
      );
      if (!(await hasKafkaJar(join(staging, 'lib')))) {
        throw new Error(`Maven finished but ${staging}/lib holds no kafka_2.13-${KAFKA_VERSION}.jar`);
      }
      await rename(staging, home);
      log.info(`resolved Kafka ${KAFKA_VERSION} jars in ${Date.now() - started} ms`);
    } finally {
      await rm(staging, { recursive: true, force: true });
    }
  } finally {
    await releaseLock();
  }
  return join(lib, '*');
}

async function hasKafkaJar(lib: string): Promise<boolean> {
  try {
    return (await readdir(lib)).includes(`kafka_2.13-${KAFKA_VERSION}.jar`);
  } catch {
    return false;
  }
}

function pom(): string {
  return `<?xml version="1.0" encoding="UTF-8"?>
<!-- Generated by infra/kafka/local-kafka-lib.ts: only used to download the broker's jars. -->
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>dev.burnrate.local</groupId>
  <artifactId>local-kafka</artifactId>
  <version>${KAFKA_VERSION}</version>
  <packaging>pom</packaging>
  <dependencies>
    <dependency>
      <groupId>org.apache.kafka</groupId>
      <artifactId>kafka_2.13</artifactId>
      <version>${KAFKA_VERSION}</version>
    </dependency>
    <dependency>
      <groupId>org.apache.logging.log4j</groupId>
      <artifactId>log4j-slf4j-impl</artifactId>
      <version>${LOG4J_VERSION}</version>
    </dependency>
  </dependencies>
  <build>
    <plugins>
      <plugin>
        <groupId>org.apache.maven.plugins</groupId>
        <artifactId>maven-dependency-plugin</artifactId>
        <version>${DEPENDENCY_PLUGIN_VERSION}</version>
      </plugin>
    </plugins>
  </build>
</project>
`;
}

/** Resolves once a kafkajs admin client can describe the cluster at `brokers`. */
export async function waitForBroker(brokers: string, options: { timeoutMs: number; isAlive?: () => boolean }): Promise<void> {
  const deadline = Date.now() + options.timeoutMs;
  const kafka = new Kafka({
    clientId: 'burnrate-local-kafka-probe',
    brokers: [brokers],
    logLevel: logLevel.NOTHING,
    connectionTimeout: 1_000,
    requestTimeout: 2_000,
    retry: { retries: 0 },
  });
  let lastError: unknown;
  while (Date.now() < deadline) {
    if (options.isAlive?.() === false) throw new Error('the broker process exited', { cause: lastError });
    const admin = kafka.admin();
    try {
      await admin.connect();
      const cluster = await admin.describeCluster();
      if (cluster.brokers.length > 0) return;
      lastError = new Error('the cluster lists no brokers yet');
    } catch (err) {
      lastError = err;
    } finally {
      await admin.disconnect().catch(() => {});
    }
    await sleep(250);
  }
  throw new Error(`no answer within ${options.timeoutMs} ms (last: ${(lastError as Error | undefined)?.message ?? 'none'})`, {
    cause: lastError,
  });
}

/** SIGTERM, then SIGKILL after `timeoutMs`; for a broker started by another process (the CLI's `stop`). */
export async function stopKafkaProcess(pid: number, timeoutMs = STOP_TIMEOUT_MS): Promise<'stopped' | 'killed' | 'not-running'> {
  if (!isKafkaProcess(pid)) return 'not-running';
  process.kill(pid, 'SIGTERM');
  if (await waitForDeath(pid, timeoutMs)) return 'stopped';
  process.kill(pid, 'SIGKILL');
  if (await waitForDeath(pid, 5_000)) return 'killed';
  throw new Error(`Kafka (pid ${pid}) survived SIGKILL for 5 s`);
}

/** True when `pid` is a live JVM running `kafka.Kafka`, so a recycled pid is never signalled. */
export function isKafkaProcess(pid: number): boolean {
  if (!isAlive(pid)) return false;
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').includes('kafka.Kafka');
  } catch {
    // No /proc (macOS): trust the pid.
    return process.platform !== 'linux';
  }
}

async function waitForDeath(pid: number, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (!isAlive(pid)) return true;
    await sleep(100);
  }
  return !isAlive(pid);
}

async function freePortPair(): Promise<{ port: number; controllerPort: number }> {
  const [port, controllerPort] = await freePorts(2);
  if (port === undefined || controllerPort === undefined) throw new Error('could not find two free TCP ports on 127.0.0.1');
  return { port, controllerPort };
}

async function freePorts(count: number): Promise<number[]> {
  // All listeners stay open until every port is known, so the ports differ from each other.
  const servers = await Promise.all(
    Array.from(
      { length: count },
      () =>
        new Promise<ReturnType<typeof createServer>>((resolve, reject) => {
          const server = createServer();
          server.once('error', reject);
          server.listen(0, '127.0.0.1', () => resolve(server));
        }),
    ),
  );
  const ports = servers.map((s) => {
    const address = s.address();
    if (address === null || typeof address === 'string') throw new Error('a TCP listener reported no port');
    return address.port;
  });
  await Promise.all(servers.map((s) => new Promise<void>((resolve) => s.close(() => resolve()))));
  return ports;
}

function spawned(child: ChildProcess, command: string): Promise<number> {
  return new Promise((resolve, reject) => {
    child.once('error', (err) =>
      reject(new Error(`cannot run ${command} (Kafka ${KAFKA_VERSION} needs Java 17+): ${err.message}`, { cause: err })),
    );
    child.once('spawn', () => {
      if (child.pid === undefined) reject(new Error(`${command} started without a pid`));
      else resolve(child.pid);
    });
  });
}

function run(command: string, args: string[], options: { timeoutMs: number; what: string }): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(command, args, { timeout: options.timeoutMs, maxBuffer: 16 * 1024 * 1024 }, (err, stdout, stderr) => {
      if (err === null) return resolve(stdout);
      const output = `${stdout}${stderr}`.trim().split('\n').slice(-30).join('\n');
      const why =
        (err as NodeJS.ErrnoException).code === 'ENOENT'
          ? `${command} was not found (Kafka ${KAFKA_VERSION} needs Java 17+ and, on first run, Maven)`
          : err.message.split('\n')[0];
      reject(new Error(`${options.what} failed: ${why}\n${output}`, { cause: err }));
    });
  });
}

async function logTail(dir: string): Promise<string> {
  const parts: string[] = [];
  for (const name of ['stdout.log', 'server.log']) {
    const file = join(dir, name);
    try {
      await access(file);
      const lines = (await readFile(file, 'utf8')).trimEnd().split('\n');
      parts.push(`--- last lines of ${file} ---`, ...lines.slice(-25));
    } catch {
      // Absent when the JVM never started; the error already says why.
    }
  }
  return parts.join('\n');
}
