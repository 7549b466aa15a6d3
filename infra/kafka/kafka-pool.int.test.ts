import { request, type ClientRequest } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { waitUntil } from '@burnrate/testing';
import { createKafkaPool, serveKafkaPool, type KafkaPool, type KafkaPoolServer } from './kafka-pool.ts';

/** Suites in other processes reach the pool over HTTP; stand-in brokers keep this about the protocol. */
describe('the pool of test brokers over HTTP', () => {
  let pool: KafkaPool;
  let server: KafkaPoolServer;
  const open: ClientRequest[] = [];

  async function serve(start: () => Promise<string>): Promise<void> {
    pool = createKafkaPool({
      env: {},
      start: async () => ({ brokers: await start(), via: 'local', local: undefined, stop: async () => {} }),
      reset: async () => {},
      canRun: async () => ({ shared: true, local: false }),
    });
    server = await serveKafkaPool(pool);
  }

  /** `GET /lease` as a suite sends it: the first line is the answer, the open response is the lease. */
  function lease(): Promise<{ status: number; answer: Record<string, unknown>; req: ClientRequest }> {
    return new Promise((resolve, reject) => {
      const req = request(`${server.url}/lease`, (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => {
          text += chunk;
          if (text.includes('\n')) resolve({ status: res.statusCode ?? 0, answer: JSON.parse(text) as Record<string, unknown>, req });
        });
      });
      open.push(req);
      req.on('error', reject);
      req.end();
    });
  }

  afterEach(async () => {
    for (const req of open.splice(0)) req.destroy();
    await server.close();
    await pool.close();
  });

  it('answers whether suites can run, and lends the same broker again once it is released', async () => {
    let n = 0;
    await serve(async () => `127.0.0.1:${String(9000 + ++n)}`);
    expect(await (await fetch(`${server.url}/can-run`)).json()).toEqual({ shared: true, local: false });
    const first = await lease();
    expect(first).toMatchObject({ status: 200, answer: { brokers: '127.0.0.1:9001', via: 'local' } });
    const released = await fetch(`${server.url}/release/${String(first.answer.id)}`, { method: 'POST' });
    expect(released.status).toBe(204);
    expect((await lease()).answer.brokers).toBe('127.0.0.1:9001');
    expect(pool.started).toBe(1);
  });

  it('takes a broker back when the suite holding it goes away without releasing it', async () => {
    let n = 0;
    await serve(async () => `127.0.0.1:${String(9000 + ++n)}`);
    const first = await lease();
    expect(pool.lent).toBe(1);
    first.req.destroy();
    await waitUntil(() => pool.lent === 0, { timeoutMs: 2000, message: 'the pool takes the broker back' });
    // The next suite gets that broker rather than a second one.
    expect((await lease()).answer.brokers).toBe('127.0.0.1:9001');
    expect(pool.started).toBe(1);
  });

  it('answers 500 with the reason when no broker can start', async () => {
    await serve(async () => {
      throw new Error('java: not found');
    });
    const failed = await lease();
    expect(failed).toMatchObject({ status: 500, answer: { error: 'the test broker did not start: java: not found' } });
  });
});
