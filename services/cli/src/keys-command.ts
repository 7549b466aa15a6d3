import { randomBytes } from 'node:crypto';
import { keyHash } from '@burnrate/ingest';
import type { CommandIO } from './config-command.ts';

/** 32 random bytes, base64url, with a prefix that says what it is (secret scanners match on it). */
export function newIngestKey(): string {
  return `brk_${randomBytes(32).toString('base64url')}`;
}

const NAME = /^[a-z0-9][a-z0-9_-]*$/;

/**
 * `burnrate keys new [--source NAME]`: a key for a source, printed once with the SHA-256 that goes
 * in burnrate.yaml (the file never holds the key). `burnrate keys hash`: the SHA-256 of a key read
 * from stdin, to find or revoke it.
 */
export async function keysCommand(
  sub: string | undefined,
  flags: Map<string, string | true>,
  io: CommandIO,
  readStdin: () => Promise<string>,
): Promise<number> {
  if (sub === 'new') {
    const source = flags.get('source');
    const name = typeof source === 'string' ? source : 'my-source';
    if (!NAME.test(name)) {
      io.err(`--source must be a lowercase id of letters, digits, - and _ (e.g. claude-code-payments), not ${JSON.stringify(name)}`);
      return 2;
    }
    const key = newIngestKey();
    io.out(`key:    ${key}`);
    io.out(`sha256: ${keyHash(key)}`);
    io.out('');
    io.out('Give the key to the sender (Authorization: Bearer <key>); it is shown only now and stored nowhere.');
    io.out('Add the hash to burnrate.yaml (beside the old one while rotating, then remove or revoke the old one):');
    io.out('');
    io.out('sources:');
    io.out(`  - name: ${name}`);
    io.out(`    keys: [${keyHash(key)}]`);
    return 0;
  }
  if (sub === 'hash') {
    const key = (await readStdin()).trim();
    if (key === '') {
      io.err('burnrate keys hash reads the key on stdin, e.g. printf %s "$KEY" | burnrate keys hash');
      return 2;
    }
    io.out(keyHash(key));
    return 0;
  }
  io.err('usage: burnrate keys new [--source NAME] | burnrate keys hash < key');
  return 2;
}
