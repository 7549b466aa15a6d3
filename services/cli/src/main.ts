import { fileURLToPath } from 'node:url';
import { userInfo } from 'node:os';
import { resolve } from 'node:path';
import { ConfigError, createLogger, isBurnrateError } from '@burnrate/core';
import { parseArgs } from './args.ts';
import type { OnCallEnv } from './anomalies-command.ts';
import type { BacktestEnv } from './backtest.ts';
import type { ImportEnv } from './import-command.ts';
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
  burnrate slack sign (--press ack --anomaly ID | --payload-file FILE | --body TEXT) [--secret S] [--url URL]
                                  sign a request as Slack signs a button press (SLACK_SIGNING_SECRET) and
                                  print its headers and a curl line that posts it to /slack/interactions

on call (against a running instance's API; burnrate <command> --help for every flag):
  burnrate anomalies list [--state open|acknowledged|snoozed|resolved] [--team T] [--kind K]
  burnrate anomalies show <id>    every version, decision and delivery of one anomaly
  burnrate anomalies ack|unack <id>... [--note TEXT]
  burnrate anomalies snooze <id>... --for 4h | --until INSTANT
  burnrate anomalies resolve <id>... --reason expected|real|noise
  burnrate silence add --match team=payments kind=session_cost --for 4h --comment "why"
  burnrate silence list [--all]   active and pending silences (--all: expired ones too)
  burnrate silence expire <id>...
  burnrate dlq list [--source S] [--reason TEXT] [--since 7d] [--ndjson]
                                  records ingest rejected, with why, and whether they were replayed
  burnrate dlq replay <dlq_id>... | --file FIXED.ndjson
                                  ingest rejected records again (as stored, or fixed) through ingest's checks
  burnrate import claude-code [DIR...] --developer EMAIL | import csv FILE... --format events|cursor|anthropic|openai
                                  post Claude Code transcripts or CSV exports to a running instance's
                                  /v1/events, with progress and a summary (burnrate import --help)
  burnrate export events [--from DATE] [--to DATE] [--out FILE]
                                  stored usage events as NDJSON, as /v1/events and backtest --input take them
  burnrate report precision [--since 30d]
                                  per detector kind and team: acknowledged, resolved real / expected /
                                  noise, and the share that was noise (what to tune thresholds from)
  burnrate report reconciliation [--since 30d] [--team T]
                                  per day, provider and team: spend seen live against the provider's
                                  usage or cost report, which one counts, and the delta
  burnrate spend [--group-by team,model] [--granularity hour|day|month] [--from 30d] [--team T] [--budget]
                                  spend per period and group, each day counted once (report over live
                                  feed), month to date against budget; --json, --csv (burnrate spend --help)
  burnrate report daily|monthly [--from …] [--team T]   ccusage-style tables: tokens, models, cost
  burnrate report session [--limit 20]                  sessions by spend

environment (backtest reads BURNRATE_DATA_DIR, BURNRATE_LOG_LEVEL and CLICKHOUSE_*):
  CLICKHOUSE_URL       read backtest events from this ClickHouse server instead of the embedded store
  CLICKHOUSE_USER, CLICKHOUSE_PASSWORD, CLICKHOUSE_DATABASE   its credentials and database

environment (topics apply):
  KAFKA_BROKERS              host:port[,host:port…] of the cluster
  KAFKA_REPLICATION_FACTOR   replicas per partition (default 1, a single dev broker; 3 in production)
  KAFKA_MIN_INSYNC_REPLICAS  min.insync.replicas of every topic (default 1; 2 with replication 3)

environment (anomalies, silence, dlq, report, spend):
  BURNRATE_URL         the instance's API (default http://127.0.0.1:8787)
  BURNRATE_API_TOKEN   its API token, when it was started with one
  BURNRATE_USER        who decisions and silences are by (default: your login name; --by overrides)

environment (start):
  BURNRATE_CONFIG      path to burnrate.yaml (default: the bundled example)
  BURNRATE_PORT        HTTP port for ingest, API and health (default ${DEFAULT_PORT})
  BURNRATE_OTLP_GRPC_PORT  OTLP/gRPC port (default 4317; off: no gRPC receiver)
  BURNRATE_HOST        interface to listen on (default 127.0.0.1)
  BURNRATE_DATA_DIR    where the event log and the embedded ClickHouse live (default ./.burnrate)
  BURNRATE_API_TOKEN   when set, /api/* requires Authorization: Bearer <token>, and /healthz shows it
                       the config path, org and refused ingest requests
  BURNRATE_LOG_LEVEL   trace | debug | info | warn | error (default info)
  SLACK_BOT_TOKEN      Slack bot token (chat:write); Slack is off without it
  SLACK_API_URL        Slack Web API base URL (default Slack's own)
  SMTP_URL             smtp://user:pass@host:port; email is off without it
  SMTP_FROM            sender address (default burnrate@<org>.invalid)
  SLACK_SIGNING_SECRET the Slack app's signing secret: button presses on POST /slack/interactions
                       (slack.interactions_path) are verified with it; interactivity is off without it
  (and every variable a receiver names in its *_env fields; start fails if one is unset)
`;

const io: CommandIO = { out: (l) => process.stdout.write(`${l}\n`), err: (l) => process.stderr.write(`${l}\n`) };

/**
 * `burnrate start`: every part in this process over the in-process bus and chdb, in the shape of
 * every standalone service (runService): the same env readers, signals and shutdown order.
 */
async function start(env: NodeJS.ProcessEnv): Promise<void> {
  const [{ parseWholeNumber, readBodyLimitBytes, readHost, readOtlpGrpcPort, readPort, runService }, { receiverSchema }] =
    await Promise.all([import('@burnrate/runtime'), import('@burnrate/notify')]);
  runService(
    {
      name: 'burnrate',
      verb: 'listening',
      config: { fallback: EXAMPLE_CONFIG, describe: `${EXAMPLE_CONFIG} (bundled example; set BURNRATE_CONFIG to use your own)` },
      parse: { receiver: receiverSchema },
      async build(root) {
        const { buildEmbedded } = await import('./embedded.ts');
        const bodyLimitBytes = readBodyLimitBytes(env);
        const maxRows = parseWholeNumber(env.BURNRATE_SINK_MAX_ROWS, 'BURNRATE_SINK_MAX_ROWS', { min: 1 });
        const maxDelayMs = parseWholeNumber(env.BURNRATE_SINK_MAX_DELAY_MS, 'BURNRATE_SINK_MAX_DELAY_MS', { min: 1 });
        return buildEmbedded(root, {
          dataDir: resolve(env.BURNRATE_DATA_DIR ?? '.burnrate'),
          port: readPort(env, 'BURNRATE_PORT', DEFAULT_PORT),
          grpcPort: readOtlpGrpcPort(env),
          host: readHost(env),
          ...(env.BURNRATE_API_TOKEN ? { apiToken: env.BURNRATE_API_TOKEN } : {}),
          ...(bodyLimitBytes !== undefined ? { bodyLimitBytes } : {}),
          sink: { ...(maxRows !== undefined ? { maxRows } : {}), ...(maxDelayMs !== undefined ? { maxDelayMs } : {}) },
        });
      },
    },
    env,
  );
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

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

function onCallEnv(env: NodeJS.ProcessEnv): OnCallEnv {
  let login: string | undefined;
  try {
    login = userInfo().username;
  } catch {
    // No passwd entry (some containers): decisions are then by the API token's identity.
  }
  return { url: env.BURNRATE_URL, token: env.BURNRATE_API_TOKEN, user: env.BURNRATE_USER || login };
}

function importEnv(env: NodeJS.ProcessEnv): ImportEnv {
  const terminal = process.stderr.isTTY;
  return {
    url: env.BURNRATE_INGEST_URL || env.BURNRATE_URL,
    key: env.BURNRATE_INGEST_KEY,
    home: env.HOME,
    claudeConfigDir: env.CLAUDE_CONFIG_DIR,
    // On a terminal, one line redrawn in place; piped or in CI, only the summary.
    progress: terminal ? (line) => process.stderr.write(line === undefined ? '\r\x1b[2K' : `\r\x1b[2K${line}`) : undefined,
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
      return keysCommand(sub, flags, io, readStdin);
    }
    case 'slack': {
      const { slackCommand } = await import('./slack-command.ts');
      const { readFile } = await import('node:fs/promises');
      return slackCommand(sub, flags, io, {
        signingSecret: process.env.SLACK_SIGNING_SECRET,
        readStdin,
        readFile: (path) => readFile(path, 'utf8'),
        now: () => new Date(),
      });
    }
    case 'anomalies': {
      const { anomaliesCommand } = await import('./anomalies-command.ts');
      return anomaliesCommand(argv.slice(argv.indexOf('anomalies') + 1), onCallEnv(process.env), io);
    }
    case 'silence': {
      const { silenceCommand } = await import('./silence-command.ts');
      return silenceCommand(argv.slice(argv.indexOf('silence') + 1), onCallEnv(process.env), io);
    }
    case 'dlq': {
      const { dlqCommand } = await import('./dlq-command.ts');
      return dlqCommand(argv.slice(argv.indexOf('dlq') + 1), onCallEnv(process.env), io);
    }
    case 'spend': {
      const { spendCommand } = await import('./spend-command.ts');
      return spendCommand(argv.slice(argv.indexOf('spend') + 1), onCallEnv(process.env), io);
    }
    case 'report': {
      const { reportCommand } = await import('./report-command.ts');
      return reportCommand(argv.slice(argv.indexOf('report') + 1), onCallEnv(process.env), io);
    }
    case 'export': {
      const { exportCommand } = await import('./export-command.ts');
      return exportCommand(argv.slice(argv.indexOf('export') + 1), backtestEnv(process.env), io, process.stdout);
    }
    case 'import': {
      const { importCommand } = await import('./import-command.ts');
      return importCommand(argv.slice(argv.indexOf('import') + 1), importEnv(process.env), io);
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
