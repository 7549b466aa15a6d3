import { createHash } from 'node:crypto';
import { parseConfig } from '@burnrate/core';
import { describe, expect, it } from 'vitest';
import { keyHash } from '@burnrate/ingest';
import { keysCommand } from './keys-command.ts';

function run(sub: string | undefined, flags: Record<string, string> = {}, stdin = '') {
  const out: string[] = [];
  const err: string[] = [];
  const code = keysCommand(sub, new Map(Object.entries(flags)), { out: (l) => out.push(l), err: (l) => err.push(l) }, async () => stdin);
  return code.then((c) => ({ code: c, out, err }));
}

describe('burnrate keys', () => {
  it('makes a fresh key and the config lines that accept it', async () => {
    const { code, out } = await run('new', { source: 'claude-code-payments' });
    expect(code).toBe(0);
    const key = /^key: {4}(brk_[A-Za-z0-9_-]{43})$/.exec(out[0] ?? '')?.[1] as string;
    expect(key).toBeDefined();
    const sha = createHash('sha256').update(key).digest('hex');
    expect(out[1]).toBe(`sha256: ${sha}`);
    // The printed lines are a valid sources block holding the hash, never the key.
    const yaml = out.slice(out.indexOf('sources:')).join('\n');
    const config = parseConfig(`org: acme\n${yaml}\n`);
    expect(config.sources).toEqual([{ name: 'claude-code-payments', keys: [{ sha256: sha }] }]);
    expect(yaml).not.toContain(key);
    // Two runs, two keys.
    expect((await run('new')).out[0]).not.toBe(out[0]);
  });

  it('hashes a key from stdin, and says how to use it when there is none', async () => {
    expect(await run('hash', {}, 'brk_abc\n')).toMatchObject({ code: 0, out: [keyHash('brk_abc')] });
    expect((await run('hash', {}, '')).code).toBe(2);
    expect((await run('new', { source: 'Bad Name' })).err[0]).toMatch(/--source must be a lowercase id/);
    expect((await run(undefined)).code).toBe(2);
  });
});
