import { Agent, request } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { createHttpServer, type HttpServer, type Route } from './http.ts';
import { createLogger } from './logger.ts';

const log = createLogger({ level: 'silent' });
const servers: HttpServer[] = [];

afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

async function start(routes: Route[], bodyLimitBytes = 1024): Promise<{ server: HttpServer; url: string; port: number }> {
  const server = createHttpServer({ routes, log, bodyLimitBytes, shutdownGraceMs: 5_000 });
  servers.push(server);
  const { port } = await server.listen(0, '127.0.0.1');
  return { server, url: `http://127.0.0.1:${port}`, port };
}

const echo: Route = {
  method: 'POST',
  path: '/echo',
  handler: async (req) => ({ status: 200, body: { bytes: (await req.body()).length } }),
};

/** A chunked POST (no Content-Length), so the server only learns the size by reading. */
function postChunked(port: number, chunks: Buffer[]): Promise<{ status: number; connection: string | undefined; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, method: 'POST', path: '/echo', headers: { 'transfer-encoding': 'chunked' } }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, connection: res.headers.connection, body }));
    });
    req.on('error', reject);
    for (const c of chunks) req.write(c);
    req.end();
  });
}

describe('createHttpServer', () => {
  it('listens on an ephemeral port and serves routes', async () => {
    const { url } = await start([echo]);
    const res = await fetch(`${url}/echo`, { method: 'POST', body: 'hello' });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ bytes: 5 });
  });

  it('answers 413 to a chunked body past the limit, draining the rest so the client reads the answer', async () => {
    const { port } = await start([echo]);
    const res = await postChunked(port, [Buffer.alloc(800), Buffer.alloc(800), Buffer.alloc(800)]);
    expect(res.status).toBe(413);
    // Closing under a client still writing turns the 413 into EPIPE on its side; the rest of the
    // body is read and discarded instead (bounded in time and bytes) and the connection stays usable.
    expect(res.connection).toBe('keep-alive');
    expect(JSON.parse(res.body)).toMatchObject({ error: { code: 'INPUT_TOO_LARGE', details: { limit_bytes: 1024 } } });
  });

  it('close() stops accepting and waits for the request in flight', async () => {
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    let entered!: () => void;
    const inHandler = new Promise<void>((r) => (entered = r));
    const slow: Route = {
      method: 'GET',
      path: '/slow',
      handler: async () => {
        entered();
        await gate;
        return { status: 200, body: { done: true } };
      },
    };
    const { server, url } = await start([slow]);
    const inFlight = fetch(`${url}/slow`);
    await inHandler;

    let closed = false;
    const closing = server.close().then(() => (closed = true));
    // Refused: close() took effect, and still has not finished while the request is in flight.
    await expect(fetch(`${url}/slow`)).rejects.toThrow();
    expect(closed).toBe(false);

    release();
    const res = await inFlight;
    expect(res.status).toBe(200);
    expect(res.headers.get('connection')).toBe('close');
    expect(await res.json()).toEqual({ done: true });
    await closing;
    expect(closed).toBe(true);
  });
});

describe('handOver', () => {
  /** GETs `path` on one kept-alive socket per call of the returned function. */
  function keptAlive(port: number) {
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    const get = (path: string): Promise<{ status: number; connection: string | undefined; body: string }> =>
      new Promise((resolve, reject) => {
        const req = request({ host: '127.0.0.1', port, path, agent }, (res) => {
          let body = '';
          res.setEncoding('utf8');
          res.on('data', (c: string) => (body += c));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, connection: res.headers.connection, body }));
        });
        req.on('error', reject);
        req.end();
      });
    return { get, destroy: () => agent.destroy() };
  }
  const ok: Route = { method: 'GET', path: '/ok', handler: () => Promise.resolve({ status: 200, body: { ok: true } }) };

  it('serves a request still arriving on a kept-alive connection and sends the client on, where close() refuses it', async () => {
    const handing = await start([ok]);
    const client = keptAlive(handing.port);
    try {
      expect((await client.get('/ok')).connection).toBe('keep-alive');
      const done = handing.server.handOver();
      const res = await client.get('/ok');
      expect(res).toMatchObject({ status: 200, connection: 'close' });
      await done;
    } finally {
      client.destroy();
    }

    const closing = await start([ok]);
    const other = keptAlive(closing.port);
    try {
      await other.get('/ok');
      const done = closing.server.close();
      // close() cuts idle kept-alive connections at once; a request racing it is refused or reset.
      const res = await other.get('/ok').catch((err: unknown) => ({ status: 0, connection: undefined, body: String(err) }));
      expect(res.status).not.toBe(200);
      await done;
    } finally {
      other.destroy();
    }
  });
});

describe('refused uploads', () => {
  it('lets a client that is still sending a too-large body read the 413 (no EPIPE), every time', async () => {
    const log = createLogger({ level: 'silent' });
    const server = createHttpServer({ routes: [echo], log, bodyLimitBytes: 64 * 1024 });
    const { port } = await server.listen(0);
    try {
      for (let i = 0; i < 20; i++) {
        const res = await fetch(`http://127.0.0.1:${port}/echo`, { method: 'POST', body: Buffer.alloc(8 * 1024 * 1024) });
        expect(res.status).toBe(413);
        await res.arrayBuffer();
      }
    } finally {
      await server.close();
    }
  });
});
