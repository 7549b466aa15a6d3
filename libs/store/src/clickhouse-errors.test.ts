import { describe, expect, it } from 'vitest';
import { storeErrorFromCode } from './clickhouse-errors.ts';

describe('storeErrorFromCode', () => {
  it('makes a full or failing disk retriable: it is never the rows’ fault', () => {
    const full = storeErrorFromCode(243, 'chdb insert into usage_events_v1', new Error('Cannot reserve 1.00 MiB, not enough space'));
    expect(full).toMatchObject({ code: 'STORE_UNAVAILABLE', retriable: true, details: { clickhouseCode: 243 } });
    for (const code of [75, 76, 204]) expect(storeErrorFromCode(code, 'insert', new Error('x')).retriable).toBe(true);
  });

  it('keeps a statement the engine refuses as not retriable', () => {
    expect(storeErrorFromCode(62, 'SELECT', new Error('Syntax error'))).toMatchObject({ code: 'STORE_QUERY_FAILED', retriable: false });
  });
});
