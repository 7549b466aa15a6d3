import { describe, expect, it } from 'vitest';
import { storeErrorFromCode } from './clickhouse-errors.ts';

const error = (code: number, text: string) =>
  storeErrorFromCode(code, 'insert into usage_events_v1', new Error(`Code: ${code}. DB::Exception: ${text}`));

describe('storeErrorFromCode', () => {
  it.each([
    [25, 'Cannot parse escape sequence: missing second part of surrogate pair (CANNOT_PARSE_ESCAPE_SEQUENCE)'],
    [6, 'Cannot parse input (CANNOT_PARSE_TEXT)'],
    [27, "Cannot parse input: expected '\"' before: 'No space left on device' (CANNOT_PARSE_INPUT_ASSERTION_FAILED)"],
    [53, 'Type mismatch (TYPE_MISMATCH)'],
    [62, 'Syntax error (SYNTAX_ERROR)'],
    [117, 'Unknown field found while parsing JSONEachRow format (INCORRECT_DATA)'],
    [321, 'Value is out of range of data type (VALUE_IS_OUT_OF_RANGE_OF_DATA_TYPE)'],
    [1001, 'std::exception: basic_string (STD_EXCEPTION)'],
  ])('the data or statement is wrong (code %i): STORE_QUERY_FAILED, not retriable', (code, text) => {
    expect(error(code, text)).toMatchObject({
      code: 'STORE_QUERY_FAILED',
      retriable: false,
      details: { clickhouseCode: code },
      message: expect.stringContaining('insert into usage_events_v1: Code:'),
    });
  });

  it.each([
    [159, 'Timeout exceeded (TIMEOUT_EXCEEDED)'],
    [241, 'Memory limit exceeded (MEMORY_LIMIT_EXCEEDED)'],
    [243, 'Cannot reserve 1.00 MiB, not enough space (NOT_ENOUGH_SPACE)'],
    [75, 'Cannot write to file /var/lib/clickhouse/x.bin (CANNOT_WRITE_TO_FILE_DESCRIPTOR)'],
    [204, 'Cannot fsync (CANNOT_FSYNC)'],
    [60, 'Table default.usage_events_v1 does not exist (UNKNOWN_TABLE)'],
    [497, 'burnrate: Not enough privileges (ACCESS_DENIED)'],
    [516, 'burnrate: Authentication failed (AUTHENTICATION_FAILED)'],
    [76, 'Cannot open file /data/store/tmp_insert/data.bin, errno: 28, strerror: No space left on device (CANNOT_OPEN_FILE)'],
    [1001, 'std::exception. filesystem error: in create_directories: Read-only file system (STD_EXCEPTION)'],
  ])('the store cannot write now (code %i): STORE_UNAVAILABLE, retriable', (code, text) => {
    expect(error(code, text)).toMatchObject({ code: 'STORE_UNAVAILABLE', retriable: true, details: { clickhouseCode: code } });
  });
});
