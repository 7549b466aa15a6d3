import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { BurnrateError, isRetriable } from './errors.ts';
import { createLogger, redactUrl } from './logger.ts';

function capture(): { lines: () => Record<string, unknown>[]; stream: Writable } {
  const chunks: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, cb) {
      chunks.push(chunk.toString());
      cb();
    },
  });
  return {
    stream,
    lines: () =>
      chunks
        .join('')
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l) as Record<string, unknown>),
  };
}

describe('logger', () => {
  it('redacts secrets wherever they sit in a log object', () => {
    const out = capture();
    const log = createLogger({ destination: out.stream });
    log.info(
      {
        slack: { token: 'xoxb-secret' },
        smtp: { auth: { user: 'u', pass: 'hunter2' } },
        req: { headers: { authorization: 'Bearer abc' } },
      },
      'hello',
    );
    const text = JSON.stringify(out.lines());
    expect(text).not.toContain('xoxb-secret');
    expect(text).not.toContain('hunter2');
    expect(text).not.toContain('Bearer abc');
    expect(text).toContain('[redacted]');
  });

  it('hides a password inside a URL', () => {
    expect(redactUrl('smtp://mailer:s3cret@smtp.acme.com:587')).toBe('smtp://mailer:redacted@smtp.acme.com:587');
    expect(redactUrl('not a url')).toBe('[unparseable url]');
  });
});

describe('BurnrateError', () => {
  it('carries a code and the retry decision of that code unless overridden', () => {
    expect(isRetriable(new BurnrateError('STORE_UNAVAILABLE', 'down'))).toBe(true);
    expect(isRetriable(new BurnrateError('INPUT_INVALID', 'bad'))).toBe(false);
    expect(isRetriable(new BurnrateError('STORE_QUERY_FAILED', 'timeout', { retriable: true }))).toBe(true);
    expect(isRetriable(new Error('plain'))).toBe(false);
    const cause = new Error('socket hang up');
    expect(new BurnrateError('BUS_UNAVAILABLE', 'x', { cause }).cause).toBe(cause);
  });
});
