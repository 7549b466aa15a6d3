import { spawn } from 'node:child_process';
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '@burnrate/core';
import { createChdbStore } from '@burnrate/store';
import {
  type BurnrateProcess,
  startBurnrate,
  startSurroundings,
  type Surroundings,
  TEST_INGEST_KEY,
  waitForCaughtUp,
} from '../test-support/burnrate-process.ts';
import type { ImportSummary } from './import-command.ts';

const MAIN = fileURLToPath(new URL('./main.ts', import.meta.url));
const TRANSCRIPTS = fileURLToPath(new URL('../../ingest/fixtures/claude-code-jsonl/', import.meta.url));
const SESSION_START = Date.parse('2026-11-30T09:12:03.118Z');

/** Runs the real `burnrate import …` as a user would; its exit code, stdout and stderr. */
function burnrate(args: string[], env: Record<string, string>): Promise<{ code: number | null; out: string; err: string }> {
  const child = spawn(process.execPath, [MAIN, 'import', ...args], { env: { PATH: process.env.PATH ?? '', ...env }, stdio: 'pipe' });
  let out = '';
  let err = '';
  child.stdout.on('data', (c: Buffer) => (out += c.toString()));
  child.stderr.on('data', (c: Buffer) => (err += c.toString()));
  return new Promise((resolve) => child.once('exit', (code) => resolve({ code, out, err })));
}

// `burnrate import` against `burnrate start`: the transcripts' calls reach the store once,
// however often they are imported.
describe('burnrate import claude-code', () => {
  let around: Surroundings;
  let proc: BurnrateProcess;
  let dir: string;
  let env: Record<string, string>;

  beforeAll(async () => {
    around = await startSurroundings();
    proc = await startBurnrate({ ...around.env, BURNRATE_OTLP_GRPC_PORT: '0' });
    env = { BURNRATE_INGEST_URL: proc.url, BURNRATE_INGEST_KEY: TEST_INGEST_KEY };
    // The fixture session, moved to two hours ago: ingest refuses events older than max_age.
    const shift = Date.now() - 2 * 3_600_000 - SESSION_START;
    dir = join(around.dir.path, 'projects');
    for (const project of await readdir(TRANSCRIPTS, { withFileTypes: true })) {
      if (!project.isDirectory()) continue;
      await mkdir(join(dir, project.name), { recursive: true });
      for (const file of await readdir(join(TRANSCRIPTS, project.name))) {
        const text = await readFile(join(TRANSCRIPTS, project.name, file), 'utf8');
        const moved = text.replace(
          /"timestamp":"([^"]+)"/g,
          (_m, at: string) => `"timestamp":"${new Date(Date.parse(at) + shift).toISOString()}"`,
        );
        await writeFile(join(dir, project.name, file), moved);
      }
    }
  }, 60_000);

  afterAll(async () => {
    await proc?.stop();
    await around?.close();
  });

  it('refuses without the ingest key, saying which variable to set, and a bad command line with the usage', async () => {
    const refused = await burnrate(['claude-code', dir, '--developer', 'alice@acme.com'], {
      BURNRATE_INGEST_URL: env.BURNRATE_INGEST_URL as string,
    });
    expect(refused.code).toBe(1);
    expect(refused.err).toMatch(/refused the records: .*\(set BURNRATE_INGEST_KEY to an ingest key\)/);

    const noDeveloper = await burnrate(['claude-code', dir], env);
    expect([noDeveloper.code, noDeveloper.err.split('\n')[0]]).toEqual([
      2,
      'transcripts name no user: say whose they are with --developer alice@acme.com',
    ]);
    const noFiles = await burnrate(['claude-code', join(dir, 'nowhere'), '--developer', 'a@acme.com'], env);
    expect([noFiles.code, noFiles.err.trim()]).toEqual([1, `cannot read ${join(dir, 'nowhere')}: no such file or directory`]);
  }, 60_000);

  it('posts each call once, says what it skipped and rejected, and a second import is all duplicates', async () => {
    const first = await burnrate(['claude-code', dir, '--developer', 'alice@acme.com'], env);
    // One line of the session is cut short: reported, and the exit code says not everything was taken.
    expect(first.code, first.err).toBe(1);
    expect(first.out.split('\n').map((l) => l.trimEnd())).toEqual([
      `read 12 lines in 1 file → ${proc.url}`,
      '  records              6',
      '  imported             4',
      '  duplicates           2   (2 repeated in the files, 0 already in Burnrate)',
      '  skipped              5',
      '                       3  no usage (not an API call)',
      '                       1  a synthetic message (no API call)',
      '                       1  an API error message',
      '  rejected             1',
      '                       1  a line that is not JSON',
      '',
    ]);

    const again = await burnrate(['claude-code', dir, '--developer', 'alice@acme.com', '--json'], env);
    const summary = JSON.parse(again.out) as ImportSummary;
    expect(summary).toMatchObject({ records: 6, imported: 0, duplicates: { in_files: 2, already_stored: 4 }, posted: 4 });

    await waitForCaughtUp(proc.url);
    await proc.stop();
    const store = await createChdbStore({ dataDir: around.chdbDir, log: createLogger({ level: 'silent' }) });
    try {
      const events = await store.listUsageEvents({ limit: 100 });
      expect(events.map((e) => [e.model, e.output_tokens, e.developer, e.team, e.tool]).sort()).toEqual([
        ['claude-haiku-4-5-20251001', 212, 'alice@acme.com', 'payments', 'claude-code'],
        ['claude-opus-4-5-20251101', 356, 'alice@acme.com', 'payments', 'claude-code'],
        ['claude-opus-4-5-20251101', 941, 'alice@acme.com', 'payments', 'claude-code'],
        ['claude-sonnet-4-5-20250929', 480, 'alice@acme.com', 'payments', 'claude-code'],
      ]);
      const sonnet = events.find((e) => e.model.startsWith('claude-sonnet'));
      expect([sonnet?.cost_usd, sonnet?.cost_source]).toEqual([0.0412, 'reported']);
      expect(events.every((e) => e.cost_usd > 0)).toBe(true);
    } finally {
      await store.close();
    }
  }, 120_000);
});
