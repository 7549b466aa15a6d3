import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { tempDir, type TempDir } from '@burnrate/testing';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { importCommand, type ImportSummary } from './import-command.ts';

/** A stand-in of POST /v1/events that answers what each test scripts, and keeps every batch it took. */
async function startIngestStandIn(
  answer: (records: Record<string, unknown>[], call: number) => { status: number; headers?: Record<string, string>; body?: unknown },
) {
  const batches: Record<string, unknown>[][] = [];
  let calls = 0;
  const server: Server = createServer((req, res) => {
    let text = '';
    req.on('data', (c: Buffer) => (text += c.toString()));
    req.on('end', () => {
      const records = JSON.parse(text) as Record<string, unknown>[];
      const { status, headers, body } = answer(records, calls++);
      if (status === 200 || status === 400) batches.push(records);
      res.writeHead(status, { 'content-type': 'application/json', ...headers });
      res.end(JSON.stringify(body ?? {}));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    batches,
    calls: () => calls,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

const CSV = `occurred_at,developer_email,model,input_tokens,output_tokens,cost_usd,attributes.job
2026-11-28T10:00:00Z,alice@acme.com,claude-sonnet-4-5,1200,300,,nightly
2026-11-28T09:00:00Z,bob@acme.com,gpt-5,800,100,0.02,
2026-11-28T10:00:00Z,alice@acme.com,claude-sonnet-4-5,1200,300,,nightly
2026-11-28T11:00:00Z,carol@acme.com,gpt-5,many,100,,
"2026-11-28T12:00:00Z,dave@acme.com
`;

describe('burnrate import csv', () => {
  let dir: TempDir;
  let out: string[];
  let err: string[];
  const io = { out: (l: string) => out.push(l), err: (l: string) => err.push(l) };
  beforeEach(async () => {
    dir = await tempDir();
    out = [];
    err = [];
    await writeFile(join(dir.path, 'usage.csv'), CSV);
  });
  afterEach(async () => dir.cleanup());

  it('posts the rows oldest first, once each; halves a batch on 413 and waits out 429 and 503 as told', async () => {
    const script = [{ status: 413 }, { status: 429, headers: { 'retry-after': '7' } }, { status: 503 }];
    const ingest = await startIngestStandIn((records, call) =>
      call < script.length
        ? (script[call] as { status: number })
        : records.length > 1
          ? { status: 413 }
          : { status: 200, body: { accepted: 1, duplicates: records[0]?.developer_email === 'alice@acme.com' ? 1 : 0, rejected: [] } },
    );
    const waits: number[] = [];
    try {
      const code = await importCommand(
        ['csv', join(dir.path, 'usage.csv'), '--format', 'events', '--json'],
        {
          url: ingest.url,
          key: 'brk_x',
          sleep: async (ms) => void waits.push(ms),
        },
        io,
      );
      const summary = JSON.parse(out.join('\n')) as ImportSummary;
      expect(summary).toMatchObject({
        lines: 4,
        records: 3,
        imported: 1,
        posted: 2,
        duplicates: { in_files: 1, already_stored: 1 },
        rejected: { 'input_tokens is not a number': 1, 'a CSV row that does not parse (quotes or column count)': 1 },
      });
      expect(code).toBe(1);
      // Retry-After when given; else a backoff that doubles with each refusal in a row.
      expect(waits).toEqual([7000, 2000]);
      expect(ingest.batches.map((b) => b.map((r) => r.developer_email))).toEqual([['bob@acme.com'], ['alice@acme.com']]);
    } finally {
      await ingest.close();
    }
  });

  it('counts what the instance rejected by reason, and stops with what to do when it cannot be reached', async () => {
    const ingest = await startIngestStandIn((records) => ({
      status: 400,
      body: {
        accepted: records.length - 1,
        duplicates: 0,
        rejected: [
          { index: 0, field: 'model', message: 'no price for model "gpt-9"' },
          { index: 0, field: 'developer_email', message: 'not a member' },
        ],
        error: { code: 'INPUT_INVALID', message: '1 of 2 records were rejected' },
      },
    }));
    try {
      expect(await importCommand(['csv', join(dir.path, 'usage.csv'), '--format', 'events'], { url: ingest.url }, io)).toBe(1);
      expect(out.join('\n')).toMatch(/imported\s+1\n/);
      expect(out.join('\n')).toMatch(/\s+1 {2}model: no price for model "gpt-9"/);
    } finally {
      await ingest.close();
    }
    out = [];
    expect(await importCommand(['csv', join(dir.path, 'usage.csv'), '--format', 'events'], { url: ingest.url }, io)).toBe(1);
    expect(err[err.length - 2]).toMatch(
      new RegExp(`^import stopped: cannot reach ${ingest.url} \\(ECONNREFUSED\\); is burnrate running there\\?`),
    );
  });

  it('reads a dry run without posting, and names a missing --format or file', async () => {
    expect(
      await importCommand(['csv', join(dir.path, 'usage.csv'), '--format', 'events', '--dry-run'], { url: 'http://127.0.0.1:1' }, io),
    ).toBe(1);
    expect(out[0]).toBe('read 4 lines in 1 file (dry run: nothing posted)');
    expect(out[2]).toMatch(/^ {2}to post\s+2$/);
    expect(await importCommand(['csv', join(dir.path, 'usage.csv')], {}, io)).toBe(2);
    expect(err.at(-1)?.split('\n')[0]).toBe('import csv needs --format events|cursor|anthropic|openai');
    expect(await importCommand(['csv', join(dir.path, 'gone.csv'), '--format', 'cursor'], {}, io)).toBe(1);
    expect(err.at(-1)).toBe(`cannot read ${join(dir.path, 'gone.csv')}: ENOENT`);
    expect(await importCommand(['csv', join(dir.path, 'usage.csv'), '--format', 'events'], { url: 'nonsense' }, io)).toBe(1);
    expect(err.at(-1)).toBe('BURNRATE_INGEST_URL (or BURNRATE_URL) must be an http(s) URL such as http://127.0.0.1:8787, not "nonsense"');
    expect(await importCommand(['excel'], {}, io)).toBe(2);
    expect(err.at(-1)?.split('\n')[0]).toBe('unknown import "excel"; there are claude-code and csv');
  });
});
