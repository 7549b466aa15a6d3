import { readFileSync } from 'node:fs';
import { parse } from 'csv-parse/sync';
import { describe, expect, it } from 'vitest';
import { CSV_SOURCES, type CsvRow, csvRowRecord } from './csv-records.ts';
import { deterministicEventId } from './event-id.ts';

const CURSOR_ROW = {
  Date: '2026-11-28T14:03:11.412Z',
  User: 'bob@acme.com',
  Kind: 'Included in Business',
  Model: 'claude-4.5-sonnet-thinking',
  'Max Mode': 'No',
  'Input (w/ Cache Write)': '48,210',
  'Input (w/o Cache Write)': '1,830',
  'Cache Read': '310522',
  'Output Tokens': '2411',
  'Total Tokens': '361143',
  Cost: '$0.31',
};

describe('CSV rows', () => {
  it("reads a row of Cursor's usage export: cache writes from the two input columns, the cost as reported", () => {
    expect(csvRowRecord('cursor', CURSOR_ROW, undefined)).toEqual({
      ok: true,
      occurredAt: '2026-11-28T14:03:11.412Z',
      record: {
        event_id: deterministicEventId(CSV_SOURCES.cursor, CURSOR_ROW),
        occurred_at: '2026-11-28T14:03:11.412Z',
        developer_email: 'bob@acme.com',
        model: 'claude-4.5-sonnet-thinking',
        tool: 'cursor',
        input_tokens: 1830,
        output_tokens: 2411,
        cache_read_tokens: 310522,
        cache_write_tokens: 46380,
        cost_usd: 0.31,
        attributes: { 'cursor.kind': 'Included in Business', 'cursor.max_mode': 'No' },
      },
    });
  });

  it('attributes a personal export (no User column) to --developer, and prices an Included row from its tokens', () => {
    const { User: _user, ...personal } = { ...CURSOR_ROW, Cost: 'Included', 'Cost to you': '$0.00' };
    const read = csvRowRecord('cursor', personal, { developer_email: 'carol@acme.com' });
    expect(read.ok && read.record).toMatchObject({ developer_email: 'carol@acme.com', attributes: { 'cursor.cost_to_you': '$0.00' } });
    expect(read.ok && read.record).not.toHaveProperty('cost_usd');
    expect(csvRowRecord('cursor', personal, undefined)).toEqual({ ok: false, reason: 'no User column and no --developer' });
  });

  it('names the cell that is wrong in a Cursor row', () => {
    expect(csvRowRecord('cursor', { ...CURSOR_ROW, Date: 'last tuesday' }, undefined)).toEqual({
      ok: false,
      reason: 'Date "last tuesday" is not a date',
    });
    expect(csvRowRecord('cursor', { ...CURSOR_ROW, Cost: 'a lot' }, undefined)).toEqual({
      ok: false,
      reason: 'Cost "a lot" is not an amount',
    });
    expect(csvRowRecord('cursor', { ...CURSOR_ROW, 'Cache Read': '1.5' }, undefined)).toEqual({
      ok: false,
      reason: 'a token count that is not a whole number ("1.5")',
    });
    expect(csvRowRecord('cursor', { ...CURSOR_ROW, Model: '' }, undefined)).toEqual({ ok: false, reason: 'no Model' });
  });

  it('reads an events CSV as posted records: numbers, booleans and attributes.* columns, empty cells absent', () => {
    const row = {
      occurred_at: '2026-11-28T10:00:00Z',
      developer_email: '',
      developer: 'batch-reconciler',
      model: 'gpt-5',
      input_tokens: '1200',
      output_tokens: '300',
      cost_usd: '',
      is_batch: 'true',
      'attributes.job': 'nightly',
    };
    expect(csvRowRecord('events', row, undefined)).toEqual({
      ok: true,
      occurredAt: '2026-11-28T10:00:00Z',
      record: {
        event_id: deterministicEventId(CSV_SOURCES.events, row),
        occurred_at: '2026-11-28T10:00:00Z',
        developer: 'batch-reconciler',
        model: 'gpt-5',
        input_tokens: 1200,
        output_tokens: 300,
        is_batch: true,
        attributes: { job: 'nightly' },
      },
    });
    expect(csvRowRecord('events', { ...row, input_tokens: 'many' }, undefined)).toEqual({
      ok: false,
      reason: 'input_tokens is not a number',
    });
    expect(csvRowRecord('events', { ...row, occurred_at: '' }, undefined)).toEqual({ ok: false, reason: 'no valid occurred_at' });
  });
});

describe('provider usage exports', () => {
  const fixture = (name: string): CsvRow[] =>
    parse<CsvRow>(readFileSync(new URL(`../fixtures/csv/${name}`, import.meta.url)), { columns: true, bom: true, trim: true });

  it("reads the Anthropic Console's usage export: a day of one key, its 1-hour cache writes apart, the Workbench by name", () => {
    const [first, workbench, batch] = fixture('anthropic-console-usage.csv').map((row) => csvRowRecord('anthropic', row, undefined));
    expect(first).toEqual({
      ok: true,
      occurredAt: '2026-11-20T00:00:00.000Z',
      record: {
        event_id: expect.stringMatching(/^anthropic_console_csv:/) as unknown,
        occurred_at: '2026-11-20T00:00:00.000Z',
        granularity: '1d',
        period_start: '2026-11-20T00:00:00.000Z',
        period_end: '2026-11-21T00:00:00.000Z',
        developer: 'payments-ci',
        api_key_name: 'payments-ci',
        project: 'Payments',
        model: 'claude-sonnet-4-5-20250929',
        provider: 'anthropic',
        tool: 'api',
        input_tokens: 1_204_500,
        output_tokens: 210_400,
        cache_read_tokens: 9_800_000,
        cache_write_tokens: 97_000,
        cache_write_1h_tokens: 15_000,
        attributes: {
          'anthropic.context_window': '≤ 200k',
          'anthropic.inference_geo': 'global',
          'anthropic.web_search_count': '3',
          'anthropic.usage_type': 'standard',
        },
      },
    });
    expect(workbench?.ok && workbench.record).toMatchObject({ developer: 'workbench', api_key_name: 'workbench', project: 'Default' });
    expect(batch?.ok && batch.record).toMatchObject({ is_batch: true, occurred_at: '2026-11-21T00:00:00.000Z' });
  });

  it("reads OpenAI's usage export: the bucket's width, cached tokens out of input_tokens, the user else the key", () => {
    const [byUser, byKey] = fixture('openai-completions-usage.csv').map((row) => csvRowRecord('openai', row, undefined));
    expect(byUser).toEqual({
      ok: true,
      occurredAt: '2026-11-20T00:00:00.000Z',
      record: {
        event_id: expect.stringMatching(/^openai_usage_csv:/) as unknown,
        occurred_at: '2026-11-20T00:00:00.000Z',
        granularity: '1h',
        period_start: '2026-11-20T00:00:00.000Z',
        period_end: '2026-11-20T01:00:00.000Z',
        developer: 'user-Ab12Cd34',
        api_key_id: 'key_3QRCYbJRFQ0G4ycm',
        project: 'proj_Wf3kPayments',
        model: 'gpt-5-mini-2025-08-07',
        provider: 'openai',
        tool: 'api',
        service_tier: 'default',
        requests: 12,
        input_tokens: 29_320,
        output_tokens: 16_730,
        cache_read_tokens: 12_800,
      },
    });
    expect(byKey?.ok && byKey.record).toMatchObject({ developer: 'key_Y0r9whvwK8Gilt6s', is_batch: true, requests: 3, input_tokens: 5904 });
  });

  it('names what is wrong in a provider export row', () => {
    const [anthropic] = fixture('anthropic-console-usage.csv') as [CsvRow];
    const [openai] = fixture('openai-completions-usage.csv') as [CsvRow];
    expect(csvRowRecord('anthropic', { ...anthropic, usage_date_utc: '20/11/2026' }, undefined)).toEqual({
      ok: false,
      reason: 'usage_date_utc "20/11/2026" is not a date (YYYY-MM-DD)',
    });
    expect(csvRowRecord('anthropic', { ...anthropic, usage_output_tokens: '-4' }, undefined)).toEqual({
      ok: false,
      reason: 'usage_output_tokens is not a whole number ("-4")',
    });
    expect(csvRowRecord('openai', { ...openai, end_time: '1795133100', end_time_iso: '' }, undefined)).toEqual({
      ok: false,
      reason: "a bucket of 300 s; the export's buckets are a minute, an hour or a day",
    });
    expect(csvRowRecord('openai', { ...openai, model: '' }, undefined)).toEqual({
      ok: false,
      reason: 'no model (export with the usage grouped by model)',
    });
    expect(csvRowRecord('openai', { ...openai, input_cached_tokens: '50000' }, undefined)).toEqual({
      ok: false,
      reason: 'input_cached_tokens and input_cache_write_tokens add up to more than input_tokens',
    });
  });
});
