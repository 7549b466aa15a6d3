// Runs a single-node Apache Kafka (KRaft) on 127.0.0.1 without Docker, for development.
// Usage: node infra/kafka/local-kafka.ts start|stop|status
// `start` prints KAFKA_BROKERS=127.0.0.1:PORT on stdout and everything else on stderr, so
// `eval "$(node infra/kafka/local-kafka.ts start)"` exports it.
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { KAFKA_VERSION, isKafkaProcess, startLocalKafka, stopKafkaProcess, waitForBroker, type LocalKafkaLog } from './local-kafka-lib.ts';

const RUN_DIR = join(import.meta.dirname, '.run');
const STATE_FILE = join(RUN_DIR, 'state.json');

interface State {
  pid: number;
  brokers: string;
  port: number;
  controllerPort: number;
  dir: string;
  version: string;
  startedAt: string;
}

// kafkajs 2.2.4 arms a timer with a negative delay on each connection (tulios/kafkajs#1751) and
// Node 24 warns every time; the warning is noise here, any other warning still prints.
process.removeAllListeners('warning');
process.on('warning', (warning) => {
  if (warning.name !== 'TimeoutNegativeWarning') console.error(`${warning.name}: ${warning.message}`);
});

const log: LocalKafkaLog = {
  info: (message) => console.error(`local-kafka: ${message}`),
  warn: (message) => console.error(`local-kafka: warning: ${message}`),
};

async function readState(): Promise<State | undefined> {
  try {
    return JSON.parse(await readFile(STATE_FILE, 'utf8')) as State;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new Error(`cannot read ${STATE_FILE}: ${(err as Error).message}`, { cause: err });
  }
}

async function start(): Promise<number> {
  const existing = await readState();
  if (existing !== undefined && isKafkaProcess(existing.pid)) {
    log.info(`already running (pid ${existing.pid}, dir ${existing.dir})`);
    console.log(`KAFKA_BROKERS=${existing.brokers}`);
    return 0;
  }
  if (existing !== undefined) await rm(existing.dir, { recursive: true, force: true });

  const javaHome = process.env.JAVA_HOME;
  const kafka = await startLocalKafka({
    log,
    detached: true,
    ...(javaHome ? { java: join(javaHome, 'bin', 'java') } : {}),
  });
  const state: State = {
    pid: kafka.pid,
    brokers: kafka.brokers,
    port: kafka.port,
    controllerPort: kafka.controllerPort,
    dir: kafka.dir,
    version: KAFKA_VERSION,
    startedAt: new Date().toISOString(),
  };
  await mkdir(RUN_DIR, { recursive: true });
  await writeFile(STATE_FILE, `${JSON.stringify(state, null, 2)}\n`);
  log.info(`broker log: ${join(kafka.dir, 'server.log')}; stop with: node infra/kafka/local-kafka.ts stop`);
  console.log(`KAFKA_BROKERS=${kafka.brokers}`);
  return 0;
}

async function stop(): Promise<number> {
  const state = await readState();
  if (state === undefined) {
    log.info('not running (no state file)');
    return 0;
  }
  const outcome = await stopKafkaProcess(state.pid);
  await rm(state.dir, { recursive: true, force: true });
  await rm(STATE_FILE, { force: true });
  log.info(outcome === 'not-running' ? `was not running; removed ${state.dir}` : `${outcome} pid ${state.pid}; removed ${state.dir}`);
  return 0;
}

async function status(): Promise<number> {
  const state = await readState();
  if (state === undefined || !isKafkaProcess(state.pid)) {
    console.log(state === undefined ? 'not running' : `not running (stale state for pid ${state.pid}; \`stop\` cleans it up)`);
    return 1;
  }
  try {
    await waitForBroker(state.brokers, { timeoutMs: 5_000 });
  } catch (err) {
    console.log(`unhealthy: pid ${state.pid} is alive but ${state.brokers} does not answer: ${(err as Error).message}`);
    return 1;
  }
  console.log(`running Kafka ${state.version} pid=${state.pid} dir=${state.dir} since ${state.startedAt}`);
  console.log(`KAFKA_BROKERS=${state.brokers}`);
  return 0;
}

const commands: Record<string, () => Promise<number>> = { start, stop, status };
const command = commands[process.argv[2] ?? ''];
if (command === undefined) {
  console.error('usage: node infra/kafka/local-kafka.ts start|stop|status');
  process.exitCode = 2;
} else {
  try {
    process.exitCode = await command();
  } catch (err) {
    console.error(`local-kafka: ${(err as Error).message}`);
    process.exitCode = 1;
  }
}
