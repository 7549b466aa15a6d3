import { BurnrateError } from '@burnrate/core';

/** A service's environment, as main.ts hands it over (process.env). Nothing here reads process.env itself. */
export type Env = Readonly<Record<string, string | undefined>>;

/**
 * Where a service keeps its rows. In a deployment every service points at the same ClickHouse
 * server (`CLICKHOUSE_URL`). Without one, `BURNRATE_DATA_DIR` gives the service an embedded chdb
 * store of its own: chdb binds one data directory per process, so such stores are never shared.
 * That is for tests and trying things out, not for production.
 */
export type StoreSettings =
  { kind: 'clickhouse'; url: string; username?: string; password?: string; database?: string } | { kind: 'chdb'; dataDir: string };

export function readStoreSettings(env: Env, service: string): StoreSettings {
  const url = env.CLICKHOUSE_URL;
  if (url) {
    return {
      kind: 'clickhouse',
      url,
      ...(env.CLICKHOUSE_USER ? { username: env.CLICKHOUSE_USER } : {}),
      ...(env.CLICKHOUSE_PASSWORD ? { password: env.CLICKHOUSE_PASSWORD } : {}),
      ...(env.CLICKHOUSE_DATABASE ? { database: env.CLICKHOUSE_DATABASE } : {}),
    };
  }
  if (env.BURNRATE_DATA_DIR) return { kind: 'chdb', dataDir: env.BURNRATE_DATA_DIR };
  throw new BurnrateError(
    'CONFIG_INVALID',
    `the ${service} needs a store: set CLICKHOUSE_URL (e.g. http://127.0.0.1:8123), or BURNRATE_DATA_DIR for an embedded chdb store of its own`,
  );
}

export function readKafkaBrokers(env: Env, service: string): string[] {
  const brokers = (env.KAFKA_BROKERS ?? '')
    .split(',')
    .map((b) => b.trim())
    .filter((b) => b.length > 0);
  if (brokers.length === 0) {
    throw new BurnrateError('CONFIG_INVALID', `the ${service} needs Kafka: set KAFKA_BROKERS to host:port[,host:port…]`);
  }
  for (const b of brokers) {
    if (!/^[^\s:]+:\d{1,5}$/.test(b))
      throw new BurnrateError('CONFIG_INVALID', `KAFKA_BROKERS entry ${JSON.stringify(b)} is not host:port`);
  }
  return brokers;
}

/**
 * KAFKA_SEND_TIMEOUT_MS: how long a send waits for Kafka's acknowledgement before it fails as
 * retriable (ingest then answers 503 with Retry-After). Undefined when unset: the bus default.
 */
export function readKafkaSendTimeoutMs(env: Env): number | undefined {
  return parseWholeNumber(env.KAFKA_SEND_TIMEOUT_MS, 'KAFKA_SEND_TIMEOUT_MS', { min: 1, unit: 'milliseconds' });
}

/**
 * A whole-number setting: undefined when unset or empty, else a whole number from `min` (to
 * `max`), or an error naming the setting, the range and what it got. `unit` and `why` go in the
 * message ("… a whole number of milliseconds of at least 1", "… from 1 to 12 (the partitions of …)").
 */
export function parseWholeNumber(
  raw: string | undefined,
  name: string,
  range: { min: number; max?: number; unit?: string; why?: string },
): number | undefined {
  if (raw === undefined || raw === '') return undefined;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < range.min || (range.max !== undefined && n > range.max)) {
    const of = range.unit === undefined ? '' : ` of ${range.unit}`;
    const bounds = range.max === undefined ? ` of at least ${range.min}` : ` from ${range.min} to ${range.max}`;
    const why = range.why === undefined ? '' : ` (${range.why})`;
    throw new BurnrateError('CONFIG_INVALID', `${name} must be a whole number${of}${bounds}${why}, not ${JSON.stringify(raw)}`);
  }
  return n;
}

export function readPort(env: Env, name: string, fallback: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const port = Number(raw);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new BurnrateError('CONFIG_INVALID', `${name} must be a port number from 0 to 65535, not ${JSON.stringify(raw)}`);
  }
  return port;
}

/**
 * BURNRATE_OTLP_GRPC_PORT: the OTLP/gRPC receivers' port (default 4317, the OTLP default, beside
 * the HTTP port); `off` runs no gRPC server.
 */
export function readOtlpGrpcPort(env: Env, fallback = 4317): number | null {
  if (env.BURNRATE_OTLP_GRPC_PORT?.trim().toLowerCase() === 'off') return null;
  return readPort(env, 'BURNRATE_OTLP_GRPC_PORT', fallback);
}

/** BURNRATE_HOST: the interface to listen on; loopback unless an operator says otherwise. */
export function readHost(env: Env): string {
  return env.BURNRATE_HOST || '127.0.0.1';
}

/** BURNRATE_BODY_LIMIT_BYTES: the largest request body, on the wire and decompressed; undefined = the server's default. */
export function readBodyLimitBytes(env: Env): number | undefined {
  return parseWholeNumber(env.BURNRATE_BODY_LIMIT_BYTES, 'BURNRATE_BODY_LIMIT_BYTES', { min: 1024, unit: 'bytes' });
}

/** BURNRATE_CONFIG_WATCH: `off` leaves reloads to SIGHUP (a file system whose change events cannot be trusted). */
export function readConfigWatch(env: Env): boolean {
  const value = (env.BURNRATE_CONFIG_WATCH ?? '').trim().toLowerCase();
  if (value === 'on' || value === '') return true;
  if (value === 'off') return false;
  throw new BurnrateError('CONFIG_INVALID', `BURNRATE_CONFIG_WATCH must be on or off, not ${JSON.stringify(env.BURNRATE_CONFIG_WATCH)}`);
}
