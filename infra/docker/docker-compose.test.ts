import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';

// No Docker engine runs where these tests run, so the compose file is checked by reading it:
// the services, their healthchecks, start order and the env that wires them together.
const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const compose = parse(readFileSync(`${ROOT}docker-compose.yml`, 'utf8'), { merge: true }) as Compose;
const dockerfile = readFileSync(`${ROOT}infra/docker/Dockerfile`, 'utf8');

interface ComposeService {
  image?: string;
  build?: { context: string; dockerfile: string };
  command?: string[];
  environment?: Record<string, string | number>;
  depends_on?: Record<string, { condition: string }>;
  healthcheck?: { test: string[] };
  ports?: string[];
  volumes?: string[];
  restart?: string;
}
interface Compose {
  services: Record<string, ComposeService>;
}

const svc = (name: string): ComposeService => {
  const s = compose.services[name];
  if (s === undefined) throw new Error(`docker-compose.yml has no service ${name}`);
  return s;
};
const env = (name: string): Record<string, string> =>
  Object.fromEntries(Object.entries(svc(name).environment ?? {}).map(([k, v]) => [k, String(v)]));
const healthcheck = (name: string): string => (svc(name).healthcheck?.test ?? []).join(' ');
const BURNRATE = ['topics', 'migrate', 'ingest', 'detector', 'notifier', 'sink', 'poller'];

describe('docker-compose.yml', () => {
  it('has the infrastructure, the two one-shot steps and the five services', () => {
    expect(Object.keys(compose.services).sort()).toEqual([
      'clickhouse',
      'detector',
      'ingest',
      'kafka',
      'mailpit',
      'migrate',
      'notifier',
      'poller',
      'sink',
      'topics',
    ]);
    expect(svc('kafka').image).toMatch(/^apache\/kafka:\$\{KAFKA_VERSION:-4\.\d+\.\d+\}$/);
    expect(svc('clickhouse').image).toMatch(/^clickhouse\/clickhouse-server:/);
    expect(svc('mailpit').image).toMatch(/^axllent\/mailpit:/);
  });

  it('runs every Burnrate process from the one image, each with a command that exists in the repo', () => {
    for (const name of BURNRATE) {
      const s = svc(name);
      expect(s.build).toEqual({ context: '.', dockerfile: 'infra/docker/Dockerfile' });
      expect(s.image).toBe('burnrate:local');
      const [node, script] = s.command ?? [];
      expect(node).toBe('node');
      expect(existsSync(`${ROOT}${script}`), `${name}: ${script}`).toBe(true);
    }
    for (const name of ['ingest', 'detector', 'notifier', 'sink', 'poller'])
      expect(svc(name).command).toEqual(['node', `services/${name}/src/main.ts`]);
    expect(svc('topics').command?.slice(2)).toEqual(['topics', 'apply']);
    expect(svc('migrate').command?.slice(2)).toEqual(['migrate']);
    expect(svc('topics').restart).toBe('no');
    expect(svc('migrate').restart).toBe('no');
  });

  it('has healthchecks: Kafka broker API versions, ClickHouse /ping, /healthz of every Burnrate service on its port', () => {
    expect(healthcheck('kafka')).toContain('kafka-broker-api-versions.sh --bootstrap-server localhost:9092');
    expect(healthcheck('clickhouse')).toContain('http://127.0.0.1:8123/ping');
    expect(healthcheck('ingest')).toContain(`http://127.0.0.1:${env('ingest').BURNRATE_PORT}/healthz`);
    expect(env('ingest').BURNRATE_HOST).toBe('0.0.0.0');
    expect(svc('ingest').ports).toContain(`${env('ingest').BURNRATE_PORT}:${env('ingest').BURNRATE_PORT}`);
    expect(svc('ingest').ports).toContain(`${env('ingest').BURNRATE_OTLP_GRPC_PORT}:${env('ingest').BURNRATE_OTLP_GRPC_PORT}`);
    expect(healthcheck('mailpit')).toContain('readyz');
    const workers = ['detector', 'notifier', 'sink', 'poller'];
    for (const name of workers) {
      expect(healthcheck(name), name).toContain(`http://127.0.0.1:${env(name).BURNRATE_HEALTH_PORT}/healthz`);
    }
    expect(new Set(workers.map((name) => env(name).BURNRATE_HEALTH_PORT)).size).toBe(workers.length);
  });

  it('starts things in order: topics after a healthy Kafka, migrate after a healthy ClickHouse, services after both steps', () => {
    expect(svc('topics').depends_on).toEqual({ kafka: { condition: 'service_healthy' } });
    expect(svc('migrate').depends_on).toEqual({ clickhouse: { condition: 'service_healthy' } });
    for (const name of ['ingest', 'detector', 'notifier', 'sink', 'poller']) {
      expect(svc(name).depends_on?.topics, name).toEqual({ condition: 'service_completed_successfully' });
    }
    for (const name of ['ingest', 'detector', 'notifier', 'sink']) {
      expect(svc(name).depends_on?.migrate, name).toEqual({ condition: 'service_completed_successfully' });
    }
    expect(svc('notifier').depends_on?.mailpit).toEqual({ condition: 'service_healthy' });
  });

  it('points every Kafka client at the listener the broker advertises inside the network', () => {
    const kafka = env('kafka');
    expect(kafka.KAFKA_ADVERTISED_LISTENERS).toContain('PLAINTEXT://kafka:9092');
    expect(kafka.KAFKA_AUTO_CREATE_TOPICS_ENABLE).toBe('false');
    expect(kafka.KAFKA_PROCESS_ROLES).toBe('broker,controller');
    for (const name of ['topics', 'ingest', 'detector', 'notifier', 'sink', 'poller'])
      expect(env(name).KAFKA_BROKERS, name).toBe('kafka:9092');
  });

  it('gives the store users the ClickHouse server, database and credentials it is started with', () => {
    const ch = env('clickhouse');
    for (const name of ['migrate', 'ingest', 'detector', 'notifier', 'sink']) {
      const e = env(name);
      expect(e.CLICKHOUSE_URL, name).toBe('http://clickhouse:8123');
      expect(e.CLICKHOUSE_USER, name).toBe(ch.CLICKHOUSE_USER);
      expect(e.CLICKHOUSE_PASSWORD, name).toBe(ch.CLICKHOUSE_PASSWORD);
      expect(e.CLICKHOUSE_DATABASE, name).toBe(ch.CLICKHOUSE_DB);
      // With a server configured, no service falls back to a private chdb directory.
      expect(e.BURNRATE_DATA_DIR, name).toBeUndefined();
    }
    expect(env('detector').BURNRATE_DETECTOR_SNAPSHOTS).toBe('kafka');
  });

  it('sends email to Mailpit and gives every service that reads it the mounted config', () => {
    expect(env('notifier').SMTP_URL).toBe('smtp://mailpit:1025');
    expect(svc('mailpit').ports).toContain('1025:1025');
    for (const name of ['ingest', 'detector', 'notifier', 'poller']) {
      expect(env(name).BURNRATE_CONFIG, name).toBe('/etc/burnrate/burnrate.yaml');
      expect(
        svc(name).volumes?.some((v) => v.endsWith(':/etc/burnrate/burnrate.yaml:ro')),
        name,
      ).toBe(true);
    }
    const [source] = (svc('ingest').volumes?.[0] ?? '').split(':/etc/');
    const defaultFile = /\$\{BURNRATE_CONFIG_FILE:-(.+)\}/.exec(source ?? '')?.[1];
    expect(defaultFile && existsSync(`${ROOT}${defaultFile}`)).toBe(true);
  });

  it('gives the poller the admin keys from the shell and a volume for its cursors', () => {
    const poller = env('poller');
    expect(poller.ANTHROPIC_ADMIN_API_KEY).toBe('${ANTHROPIC_ADMIN_API_KEY:-}');
    expect(poller.OPENAI_ADMIN_KEY).toBe('${OPENAI_ADMIN_KEY:-}');
    expect(poller.GITHUB_COPILOT_TOKEN).toBe('${GITHUB_COPILOT_TOKEN:-}');
    expect(poller.GITHUB_ORG).toBe('${GITHUB_ORG:-}');
    expect(svc('poller').volumes).toContain(`poller-data:${poller.BURNRATE_DATA_DIR}`);
    expect(dockerfile).toContain(`chown node:node ${poller.BURNRATE_DATA_DIR}`);
  });
});

describe('infra/docker/Dockerfile', () => {
  it('is a Node 24 image on glibc (chdb) that copies the manifest of every workspace package before npm ci', () => {
    expect(dockerfile).toMatch(/^FROM node:24-bookworm-slim$/m);
    const packages = ['schemas', ...['libs', 'services'].flatMap((d) => readdirSync(`${ROOT}${d}`).map((p) => `${d}/${p}`))].filter((p) =>
      existsSync(`${ROOT}${p}/package.json`),
    );
    for (const p of packages) expect(dockerfile, p).toContain(`COPY ${p}/package.json ${p}/`);
    expect(dockerfile.indexOf('RUN npm ci')).toBeGreaterThan(dockerfile.lastIndexOf('/package.json'));
    // What the processes load at run time besides the packages: the migrations.
    expect(dockerfile).toContain('COPY infra/clickhouse/ infra/clickhouse/');
  });
});
