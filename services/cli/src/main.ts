import { fileURLToPath } from 'node:url';
import { resolve } from 'node:path';
import { ConfigError, createLogger, isBurnrateError, loadConfig } from '@burnrate/core';
import { parseArgs } from './args.ts';
import type { BacktestEnv } from './backtest.ts';
import { configCheck, configSchema, type CommandIO } from './config-command.ts';
import type { TopicsEnv } from './topics-command.ts';

// Each command's module (and what it pulls in: the embedded stack, kafkajs, the store) is
// loaded only when that command runs, so `burnrate start` does not pay for the Kafka admin
// client or the backtest code at start-up.

const EXAMPLE_CONFIG = fileURLToPath(new URL('../burnrate.example.yaml', import.meta.url));
const DEFAULT_PORT = 8787;

const USAGE = `burnrate — streaming anomaly detection for AI spend

usage:
  burnrate start                  run ingest, detector and notifier in one process (embedded)
  burnrate config check <file>    validate a burnrate.yaml; exit 1 listing every problem
  burnrate config schema          print the JSON Schema of burnrate.yaml for editors
  burnrate backtest --config proposed.yaml [--baseline current.yaml] [--from DATE] [--to DATE]
                    [--input events.ndjson] [--json]
                                  replay stored (or given) events through a config: the anomalies it
                                  raises per team and week, and the diff against --baseline
                                  (burnrate backtest --help for every flag)
  burnrate topics apply [--dry-run]
                                  create missing Kafka topics, add partitions and set configs as
                                  declared in libs/bus/src/kafka/topics.ts; prints each change or "no changes"
  burnrate migrate                apply the ClickHouse migrations (CLICKHOUSE_URL, or BURNRATE_DATA_DIR) and exit
  burnrate keys new [--source NAME]
                                  make an ingest key: prints the key once and the sha256 for burnrate.yaml
  burnrate keys hash              print the sha256 of a key read on stdin (to find or revoke it)

environment (backtest reads BURNRATE_DATA_DIR, BURNRATE_LOG_LEVEL and CLICKHOUSE_*):
  CLICKHOUSE_URL       read backtest events from this ClickHouse server instead of the embedded store
  CLICKHOUSE_USER, CLICKHOUSE_PASSWORD, CLICKHOUSE_DATABASE   its credentials and database

environment (topics apply):
  KAFKA_BROKERS              host:port[,host:port…] of the cluster
  KAFKA_REPLICATION_FACTOR   replicas per partition (default 1, a single dev broker; 3 in production)
  KAFKA_MIN_INSYNC_REPLICAS  min.insync.replicas of every topic (default 1; 2 with replication 3)

environment (start):
  BURNRATE_CONFIG      path to burnrate.yaml (default: the bundled example)
  BURNRATE_PORT        HTTP port for ingest, API and health (default ${DEFAULT_PORT})
  BURNRATE_HOST        interface to listen on (default 127.0.0.1)
  BURNRATE_DATA_DIR    where the event log and the embedded ClickHouse live (default ./.burnrate)
  BURNRATE_API_TOKEN   when set, /api/* requires Authorization: Bearer <token>, and /healthz shows it
                       the config path, org and refused ingest requests
  BURNRATE_LOG_LEVEL   trace | debug | info | warn | error (default info)
  SLACK_BOT_TOKEN      Slack bot token (chat:write); Slack is off without it
  SLACK_API_URL        Slack Web API base URL (default Slack's own)
  SMTP_URL             smtp://user:pass@host:port; email is off without it
  SMTP_FROM            sender address (default burnrate@<org>.invalid)
  (and every variable a receiver names in its *_env fields; start fails if one is unset)
`;

const io: CommandIO = { out: (l) => process.stdout.write(`${l}\n`), err: (l) => process.stderr.write(`${l}\n`) };

async function start(env: NodeJS.ProcessEnv): Promise<void> {
  const log = createLogger({ level: env.BURNRATE_LOG_LEVEL ?? 'info' });
  const configPath = env.BURNRATE_CONFIG ?? EXAMPLE_CONFIG;
  const configSource = env.BURNRATE_CONFIG
    ? resolve(configPath)
    : `${EXAMPLE_CONFIG} (bundled example; set BURNRATE_CONFIG to use your own)`;
  const port = env.BURNRATE_PORT === undefined ? DEFAULT_PORT : Number(env.BURNRATE_PORT);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    io.err(`BURNRATE_PORT must be a port number from 0 to 65535, not ${JSON.stringify(env.BURNRATE_PORT)}`);
    process.exitCode = 1;
    return;
  }

  const { receiverSchema } = await import('@burnrate/notify');
  const config = await loadConfig(configPath, { receiver: receiverSchema });
  log.info({ config: configSource }, 'config loaded');

  const { startEmbedded } = await import('./embedded.ts');
  const app = await startEmbedded({
    config,
    configSource,
    dataDir: resolve(env.BURNRATE_DATA_DIR ?? '.burnrate'),
    port,
    host: env.BURNRATE_HOST ?? '127.0.0.1',
    log,
    env,
    apiToken: env.BURNRATE_API_TOKEN,
  });

  let stopping = false;
  const shutdown = (signal: string): void => {
    if (stopping) {
      log.warn({ signal }, 'second signal: exiting now');
      process.exit(130);
    }
    stopping = true;
    log.info({ signal }, 'shutting down');
    app.stop().then(
      () => {
        log.info('stopped cleanly');
        process.exit(0);
      },
      (err: unknown) => {
        log.error({ err }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', () => shutdown('SIGINT'));
  process.on('SIGTERM', () => shutdown('SIGTERM'));
}

function backtestEnv(env: NodeJS.ProcessEnv): BacktestEnv {
  const url = env.CLICKHOUSE_URL;
  return {
    dataDir: env.BURNRATE_DATA_DIR,
    clickhouse: url
      ? { url, username: env.CLICKHOUSE_USER, password: env.CLICKHOUSE_PASSWORD, database: env.CLICKHOUSE_DATABASE }
      : undefined,
    // stdout carries the report (and --json must parse), so logs go to stderr.
    log: createLogger({ level: env.BURNRATE_LOG_LEVEL ?? 'warn', destination: process.stderr }),
  };
}

async function topicsEnv(env: NodeJS.ProcessEnv): Promise<TopicsEnv> {
  // stdout carries the list of changes.
  const log = createLogger({ level: env.BURNRATE_LOG_LEVEL ?? 'warn', destination: process.stderr });
  const { quietKafkajsWarnings } = await import('@burnrate/runtime');
  quietKafkajsWarnings(log);
  return {
    brokers: env.KAFKA_BROKERS,
    env: { KAFKA_REPLICATION_FACTOR: env.KAFKA_REPLICATION_FACTOR, KAFKA_MIN_INSYNC_REPLICAS: env.KAFKA_MIN_INSYNC_REPLICAS },
    log,
  };
}

async function main(argv: readonly string[]): Promise<number | undefined> {
  const { positionals, flags } = parseArgs(argv);
  const [command, sub, arg] = positionals;
  switch (command) {
    case 'start':
      await start(process.env);
      return undefined;
    case 'config':
      if (sub === 'check') return configCheck(arg, io);
      if (sub === 'schema') return configSchema(io);
      io.err(`unknown config command ${JSON.stringify(sub ?? '')}\n\n${USAGE}`);
      return 2;
    case 'topics': {
      const { topicsCommand } = await import('./topics-command.ts');
      return topicsCommand(argv.slice(argv.indexOf('topics') + 1), await topicsEnv(process.env), io);
    }
    case 'migrate': {
      const { migrateCommand } = await import('./migrate-command.ts');
      return migrateCommand(
        process.env,
        createLogger({ level: process.env.BURNRATE_LOG_LEVEL ?? 'warn', destination: process.stderr }),
        io,
      );
    }
    case 'keys': {
      const { keysCommand } = await import('./keys-command.ts');
      return keysCommand(sub, flags, io, async () => {
        const chunks: Buffer[] = [];
        for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
        return Buffer.concat(chunks).toString('utf8');
      });
    }
    case 'backtest': {
      const { backtest } = await import('./backtest.ts');
      return backtest(argv.slice(argv.indexOf('backtest') + 1), backtestEnv(process.env), io);
    }
    case undefined:
    case 'help':
    case '--help':
      io.out(USAGE);
      return 0;
    default:
      io.err(`unknown command ${JSON.stringify(command)}\n\n${USAGE}`);
      return 2;
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    if (code !== undefined) process.exitCode = code;
  },
  (err: unknown) => {
    if (err instanceof ConfigError || isBurnrateError(err)) io.err(err.message);
    else io.err(`burnrate failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
    process.exitCode = 1;
  },
);
