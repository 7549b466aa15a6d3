import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { canRunKafkaTests, canRunLocalKafka, resetTestKafka, startTestKafka, type TestKafka } from './test-kafka.ts';

/**
 * The brokers of one test run, lent to one suite at a time. A broker boots once and serves every
 * suite that runs after it on it; a second broker starts only while the first is lent, so there
 * are never more brokers than suites running at once (at most one per test worker). Each lease
 * starts from a reset broker (`resetTestKafka`). A broker given in KAFKA_BROKERS is the only one
 * there can be: suites wait for it in turn.
 *
 * Runs in the test runner's main process (`kafka-pool-setup.ts`), which outlives the suites'
 * worker processes; the suites reach it over HTTP on 127.0.0.1 (`suite-kafka.ts`).
 */
export interface KafkaPool {
  /** Whether suites can run here, decided once on first ask. */
  canRun(): Promise<KafkaAvailability>;
  lease(): Promise<KafkaLease>;
  /** Stops the brokers the pool started. */
  close(): Promise<void>;
  /** Brokers started so far, for the run's log. */
  readonly started: number;
  /** Brokers lent right now. */
  readonly lent: number;
}

export interface KafkaAvailability {
  /** A broker for the suites that share one (KAFKA_BROKERS, a Docker engine, or Java and Maven). */
  shared: boolean;
  /** A local broker a suite can stop and restart on its own data (Java and Maven). */
  local: boolean;
}

export interface KafkaLease {
  id: number;
  brokers: string;
  via: TestKafka['via'];
  /** Hands the broker back; later calls do nothing. */
  release(): void;
}

export interface KafkaPoolOptions {
  env?: Readonly<Record<string, string | undefined>>;
  start?: () => Promise<TestKafka>;
  reset?: (brokers: string) => Promise<void>;
  canRun?: () => Promise<KafkaAvailability>;
  log?: (message: string) => void;
}

interface Slot {
  kafka: TestKafka | undefined;
  lent: boolean;
}

export function createKafkaPool(options: KafkaPoolOptions = {}): KafkaPool {
  const env = options.env ?? process.env;
  const start = options.start ?? (() => startTestKafka({ env }));
  const reset = options.reset ?? ((brokers: string) => resetTestKafka(brokers));
  const decide =
    options.canRun ?? (async (): Promise<KafkaAvailability> => ({ shared: await canRunKafkaTests(env), local: canRunLocalKafka(env) }));
  const log = options.log ?? (() => {});
  // A broker someone gave cannot be multiplied: every lease is of that one.
  const single = env.KAFKA_BROKERS !== undefined;
  const slots: Slot[] = [];
  const waiting: (() => void)[] = [];
  let availability: Promise<KafkaAvailability> | undefined;
  let startFailure: Error | undefined;
  let nextId = 1;
  let started = 0;
  let closed = false;

  const wakeOne = (): void => waiting.shift()?.();
  const wakeAll = (): void => {
    for (const wake of waiting.splice(0)) wake();
  };

  async function handOut(slot: Slot, kafka: TestKafka): Promise<KafkaLease> {
    try {
      await reset(kafka.brokers);
    } catch (err) {
      slot.lent = false;
      wakeOne();
      throw new Error(`could not reset the test broker at ${kafka.brokers}: ${(err as Error).message}`, { cause: err });
    }
    let released = false;
    return {
      id: nextId++,
      brokers: kafka.brokers,
      via: kafka.via,
      release: () => {
        if (released) return;
        released = true;
        slot.lent = false;
        wakeOne();
      },
    };
  }

  return {
    get started() {
      return started;
    },
    get lent() {
      return slots.filter((s) => s.lent).length;
    },
    canRun: () => (availability ??= decide()),
    async lease() {
      for (;;) {
        if (closed) throw new Error('the Kafka pool is closed');
        const idle = slots.find((s) => !s.lent && s.kafka !== undefined);
        if (idle?.kafka !== undefined) {
          idle.lent = true;
          return handOut(idle, idle.kafka);
        }
        // A broker that failed to start fails every suite the same way, without another minute of trying.
        if (startFailure !== undefined) throw startFailure;
        if (!single || slots.length === 0) {
          const slot: Slot = { kafka: undefined, lent: true };
          slots.push(slot);
          const t0 = Date.now();
          try {
            slot.kafka = await start();
          } catch (err) {
            slots.splice(slots.indexOf(slot), 1);
            startFailure = new Error(`the test broker did not start: ${(err as Error).message}`, { cause: err });
            wakeAll();
            throw startFailure;
          }
          started += 1;
          log(
            `Kafka for the integration suites: ${slot.kafka.via} broker at ${slot.kafka.brokers} (${slots.length} in the pool), up in ${Date.now() - t0} ms`,
          );
          return handOut(slot, slot.kafka);
        }
        await new Promise<void>((resolve) => waiting.push(resolve));
      }
    },
    async close() {
      closed = true;
      wakeAll();
      await Promise.all(slots.map((s) => s.kafka?.stop() ?? Promise.resolve()));
      slots.length = 0;
    },
  };
}

export interface KafkaPoolServer {
  /** `http://127.0.0.1:PORT`, what the suites are given. */
  url: string;
  close(): Promise<void>;
}

/**
 * The pool over HTTP, for suites in other processes:
 * - `GET /can-run` → `{ shared, local }`;
 * - `GET /lease` → one JSON line `{ id, brokers, via }` (or `{ error }` with status 500), then the
 *   response stays open for as long as the lease: a suite whose process dies hands its broker
 *   back by closing the connection;
 * - `POST /release/<id>` → 204 once the broker is back in the pool.
 */
export async function serveKafkaPool(pool: KafkaPool): Promise<KafkaPoolServer> {
  const leases = new Map<number, KafkaLease>();
  const server = createServer((req, res) => {
    void handle(req, res).catch((err: unknown) => {
      if (!res.headersSent) res.writeHead(500, { 'content-type': 'application/json' });
      res.end(`${JSON.stringify({ error: (err as Error).message })}\n`);
    });
  });

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = req.url ?? '/';
    if (req.method === 'GET' && path === '/can-run') {
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(await pool.canRun()));
      return;
    }
    if (req.method === 'GET' && path === '/lease') {
      let gone = false;
      res.once('close', () => (gone = true));
      const lease = await pool.lease();
      if (gone) {
        lease.release();
        return;
      }
      leases.set(lease.id, lease);
      res.once('close', () => {
        leases.delete(lease.id);
        lease.release();
      });
      res.writeHead(200, { 'content-type': 'application/x-ndjson' });
      res.write(`${JSON.stringify({ id: lease.id, brokers: lease.brokers, via: lease.via })}\n`);
      return;
    }
    const release = /^\/release\/(\d+)$/.exec(path);
    if (req.method === 'POST' && release !== null) {
      const id = Number(release[1]);
      leases.get(id)?.release();
      leases.delete(id);
      res.writeHead(204).end();
      return;
    }
    res.writeHead(404, { 'content-type': 'application/json' }).end(`${JSON.stringify({ error: `no ${req.method ?? ''} ${path}` })}\n`);
  }

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${String(port)}`,
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
