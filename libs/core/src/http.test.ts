import { Readable } from 'node:stream';
import { deflateSync, gzipSync } from 'node:zlib';
import { waitUntil } from '@burnrate/testing/wait-until';
import { describe, expect, it } from 'vitest';
import { BurnrateError } from './errors.ts';
import { createHttpApp, createRouter, errorResponse, readBody, type IncomingRequest, type Route } from './http.ts';
import { createLogger } from './logger.ts';

const log = createLogger({ level: 'silent' });

const echo: Route = {
  method: 'POST',
  path: '/echo',
  handler: async (req) => {
    const body = await req.body();
    return { status: 200, body: { bytes: body.length, text: body.toString('utf8'), contentType: req.contentType } };
  },
};

function app(routes: Route[] = [echo], bodyLimitBytes = 1024) {
  return createHttpApp({ routes, log, bodyLimitBytes });
}

describe('router', () => {
  const routes: Route[] = [
    echo,
    {
      method: 'GET',
      path: '/v1/anomalies/:id',
      handler: async (req) => ({ status: 200, body: { id: req.params.id, q: req.query.get('q') } }),
    },
  ];

  it('fills path params and the query', async () => {
    const res = await app(routes).inject({ method: 'GET', url: '/v1/anomalies/a%2Fb?q=1' });
    expect(res.status).toBe(200);
    expect(res.json()).toEqual({ id: 'a/b', q: '1' });
  });

  it('answers 404 for an unknown path', async () => {
    const res = await app(routes).inject({ method: 'GET', url: '/nope' });
    expect(res.status).toBe(404);
    expect(res.json()).toEqual({ error: { code: 'NOT_FOUND', message: 'no route for GET /nope', retriable: false } });
  });

  it('answers 405 with Allow for a known path and another method', async () => {
    const res = await app(routes).inject({ method: 'GET', url: '/echo' });
    expect(res.status).toBe(405);
    expect(res.headers.allow).toBe('POST');
    expect(res.json()).toMatchObject({ error: { code: 'METHOD_NOT_ALLOWED', message: 'GET is not allowed on /echo; use POST' } });
  });

  it('calls the handler directly without a server', async () => {
    const handle = createRouter(routes);
    const req: IncomingRequest = {
      method: 'GET',
      path: '/v1/anomalies/x1',
      query: new URLSearchParams(),
      headers: {},
      params: {},
      contentType: '',
      remoteAddress: '',
      body: () => Promise.resolve(Buffer.alloc(0)),
    };
    expect(await handle(req)).toEqual({ status: 200, body: { id: 'x1', q: null } });
  });
});

describe('error responses', () => {
  it.each([
    ['INPUT_INVALID', 400],
    ['UNAUTHORIZED', 401],
    ['NOT_FOUND', 404],
    ['INPUT_TOO_LARGE', 413],
    ['UNSUPPORTED_MEDIA_TYPE', 415],
  ] as const)('%s -> %i with its message and details', (code, status) => {
    const res = errorResponse(new BurnrateError(code, 'what is wrong', { details: { field: 'x' } }));
    expect(res.status).toBe(status);
    expect(res.body).toEqual({ error: { code, message: 'what is wrong', retriable: false, details: { field: 'x' } } });
  });

  it('answers 503 for shutdown and an unavailable bus, retriable, without the internal message', () => {
    const shutting = errorResponse(new BurnrateError('SHUTTING_DOWN', 'closing'));
    expect(shutting).toMatchObject({ status: 503, body: { error: { code: 'SHUTTING_DOWN', retriable: true } } });
    const bus = errorResponse(new BurnrateError('BUS_UNAVAILABLE', 'broker 10.1.2.3:9092 refused', { retryAfterMs: 2500 }));
    expect(bus.status).toBe(503);
    expect(bus.headers?.['retry-after']).toBe('3');
    expect(JSON.stringify(bus.body)).not.toContain('10.1.2.3');
  });

  it('hides unknown errors behind a 500', async () => {
    const boom: Route = { method: 'GET', path: '/boom', handler: () => Promise.reject(new Error('SELECT secret FROM t')) };
    const res = await app([boom]).inject({ method: 'GET', url: '/boom' });
    expect(res.status).toBe(500);
    expect(res.json()).toEqual({ error: { code: 'INTERNAL', message: 'internal error', retriable: false } });
    const storeQuery = errorResponse(new BurnrateError('STORE_QUERY_FAILED', 'syntax error near secret'));
    expect(storeQuery.status).toBe(500);
    expect(JSON.stringify(storeQuery.body)).not.toContain('secret');
  });
});

describe('request bodies', () => {
  it('reads a plain body and reports its media type without parameters', async () => {
    const res = await app().inject({
      method: 'POST',
      url: '/echo',
      headers: { 'content-type': 'Application/JSON; charset=utf-8' },
      body: '{"a":1}',
    });
    expect(res.json()).toEqual({ bytes: 7, text: '{"a":1}', contentType: 'application/json' });
  });

  it.each([
    ['gzip', gzipSync],
    ['deflate', deflateSync],
  ] as const)('decodes Content-Encoding: %s', async (encoding, compress) => {
    const res = await app().inject({
      method: 'POST',
      url: '/echo',
      headers: { 'content-encoding': encoding },
      body: compress(Buffer.from('hello')),
    });
    expect(res.json()).toMatchObject({ bytes: 5, text: 'hello' });
  });

  it('answers 413 naming the limit when Content-Length is over it, before reading', async () => {
    const res = await app().inject({ method: 'POST', url: '/echo', body: 'x'.repeat(1025) });
    expect(res.status).toBe(413);
    expect(res.json()).toEqual({
      error: {
        code: 'INPUT_TOO_LARGE',
        message: 'request body exceeds the limit of 1024 bytes on the wire; split it into smaller requests',
        retriable: false,
        details: { limit_bytes: 1024 },
      },
    });
  });

  it('answers 413 for a zip bomb once the decompressed size passes the limit', async () => {
    const bomb = gzipSync(Buffer.alloc(8 * 1024 * 1024));
    expect(bomb.length).toBeLessThan(64 * 1024);
    const res = await app([echo], 1024 * 1024).inject({
      method: 'POST',
      url: '/echo',
      headers: { 'content-encoding': 'gzip' },
      body: bomb,
    });
    expect(res.status).toBe(413);
    expect(res.json<{ error: { message: string } }>().error.message).toBe(
      'request body exceeds the limit of 1048576 bytes once decompressed; split it into smaller requests',
    );
  });

  it('stops reading a body without Content-Length once it passes the limit', async () => {
    let pulled = 0;
    const endless = new Readable({
      highWaterMark: 1024,
      read() {
        pulled += 1;
        // Pushed on a later turn, as a socket delivers: a stream left flowing by mistake then
        // keeps pulling without starving the event loop, and the wait below fails instead of hanging.
        setImmediate(() => this.push(Buffer.alloc(1024)));
      },
    });
    await expect(readBody(endless, {}, 10 * 1024)).rejects.toMatchObject({ code: 'INPUT_TOO_LARGE' });
    // A paused stream reads ahead until its buffer is full and then never calls read() again; a
    // stream left flowing would be pulled forever and never fill it.
    await waitUntil(() => endless.isPaused() && endless.readableLength >= endless.readableHighWaterMark, {
      timeoutMs: 2000,
      message: 'the stream paused with a full buffer',
    });
    // 10 chunks reach the limit; the stream's own read-ahead adds one or two.
    expect(pulled).toBeLessThan(16);
  });

  it('answers 400 for a corrupt gzip body', async () => {
    const res = await app().inject({ method: 'POST', url: '/echo', headers: { 'content-encoding': 'gzip' }, body: 'not gzip' });
    expect(res.status).toBe(400);
    expect(res.json<{ error: { message: string } }>().error.message).toMatch(
      /^request body is not valid gzip data \(Content-Encoding: gzip\)/,
    );
  });

  it('answers 415 for an unknown Content-Encoding, listing the supported ones', async () => {
    const res = await app().inject({ method: 'POST', url: '/echo', headers: { 'content-encoding': 'zstd' }, body: 'x' });
    expect(res.status).toBe(415);
    expect(res.json<{ error: { message: string } }>().error.message).toBe(
      'Content-Encoding "zstd" is not supported; send identity, gzip, deflate, br',
    );
  });
});
