import { describe, expect, it } from 'vitest';
import { CSV_SOURCES, csvRowRecord } from './csv-records.ts';
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
