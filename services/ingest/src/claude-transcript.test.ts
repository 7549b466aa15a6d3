import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { createTranscriptDeduper, readTranscriptLine, TRANSCRIPT_SOURCE, type TranscriptLine } from './claude-transcript.ts';
import { deterministicEventId } from './event-id.ts';

const FIXTURE = fileURLToPath(
  new URL('../fixtures/claude-code-jsonl/-home-alice-src-payments/5f0c2b8e-3a41-4d7e-9c1a-0b6f2e8d4c17.jsonl', import.meta.url),
);
const WHO = { developer_email: 'alice@acme.com' };
const lines = readFileSync(FIXTURE, 'utf8')
  .split('\n')
  .filter((l) => l !== '');
const read = lines.map((l) => readTranscriptLine(l, WHO));
const usage = (r: TranscriptLine[]) => r.filter((l): l is Extract<TranscriptLine, { kind: 'usage' }> => l.kind === 'usage');

describe('Claude Code transcript lines', () => {
  it('reads each line of a session as a call, a line with no usage, or a rejection with its reason', () => {
    expect(read.map((l) => (l.kind === 'usage' ? 'usage' : `${l.kind}: ${l.reason}`))).toEqual([
      'skipped: no usage (not an API call)',
      'skipped: no usage (not an API call)',
      'usage',
      'usage',
      'skipped: no usage (not an API call)',
      'usage',
      'usage',
      'usage',
      'skipped: a synthetic message (no API call)',
      'skipped: an API error message',
      'rejected: a line that is not JSON',
      'usage',
    ]);
  });

  it('maps a call to a /v1/events record: tokens with the 1-hour cache writes, session, request id and project', () => {
    expect(usage(read)[2]?.record).toEqual({
      event_id: deterministicEventId(TRANSCRIPT_SOURCE, 'message_id=msg_01Jk2Lm3Nn4Pp5Qq6Rr7Ss8T'),
      occurred_at: '2026-11-30T09:12:31.774Z',
      developer_email: 'alice@acme.com',
      model: 'claude-opus-4-5-20251101',
      provider: 'anthropic',
      tool: 'claude-code',
      session_id: '5f0c2b8e-3a41-4d7e-9c1a-0b6f2e8d4c17',
      input_tokens: 6,
      output_tokens: 941,
      cache_read_tokens: 18452,
      cache_write_tokens: 2210,
      cache_write_1h_tokens: 1000,
      service_tier: 'standard',
      overlap_group: 'anthropic-request:req_011CVf3mX9a2Bc4De6Fg8Hj0',
      attributes: {
        request_id: 'req_011CVf3mX9a2Bc4De6Fg8Hj0',
        'project.dir': 'payments',
        'git.branch': 'fix/ledger-rounding',
        'app.version': '2.1.197',
      },
    });
  });

  it("takes an older version's costUSD as the reported cost and its cache writes without a breakdown", () => {
    const old = usage(read)[5]?.record;
    expect(old).toMatchObject({
      cost_usd: 0.0412,
      cache_write_tokens: 3120,
      cache_read_tokens: 20662,
      model: 'claude-sonnet-4-5-20250929',
    });
    expect(old).not.toHaveProperty('cache_write_1h_tokens');
  });

  it('keeps one call per message: the last content block, and the main-chain copy over a sidechain replay', () => {
    for (const order of [usage(read), [...usage(read)].reverse()]) {
      const calls = createTranscriptDeduper();
      const fresh = order.map((l) => calls.add(l));
      expect(fresh.filter((f) => !f).length).toBe(2);
      const kept = calls.records();
      expect(kept.map((r) => [r.model, r.output_tokens, r.attributes && (r.attributes as Record<string, string>).query_source])).toEqual([
        ['claude-opus-4-5-20251101', 356, undefined],
        ['claude-opus-4-5-20251101', 941, undefined],
        ['claude-haiku-4-5-20251001', 212, 'subagent'],
        ['claude-sonnet-4-5-20250929', 480, undefined],
      ]);
    }
  });

  it('names what is wrong with a line that has usage but no usable numbers, model or time', () => {
    const base = { type: 'assistant', timestamp: '2026-11-30T09:00:00Z', message: { id: 'm', model: 'claude-opus-4-5', usage: {} } };
    const cases: [unknown, string][] = [
      [
        { ...base, message: { ...base.message, usage: { input_tokens: '12', output_tokens: 3 } } },
        'usage token counts that are not whole numbers',
      ],
      [{ ...base, message: { ...base.message, usage: { input_tokens: -1 } } }, 'usage token counts that are not whole numbers'],
      [{ ...base, message: { ...base.message, usage: { cache_read_input_tokens: 5 } } }, 'usage without input_tokens or output_tokens'],
      [{ ...base, message: { id: 'm', usage: { input_tokens: 1 } } }, 'usage without a model'],
      [{ ...base, timestamp: 'yesterday', message: { ...base.message, usage: { input_tokens: 1 } } }, 'usage without a valid timestamp'],
      [[1, 2], 'a line that is not a JSON object'],
    ];
    for (const [value, reason] of cases) expect(readTranscriptLine(JSON.stringify(value), WHO)).toEqual({ kind: 'rejected', reason });
    expect(readTranscriptLine('   ', WHO)).toEqual({ kind: 'skipped', reason: 'empty line' });
  });

  it('gives a message the same event id from every copy, so a re-import is a duplicate', () => {
    const [first, second] = usage(read);
    expect(first?.record.event_id).toBe(second?.record.event_id);
  });
});
