import { BurnrateError } from '@burnrate/core';

/**
 * ClickHouse exception codes that describe the engine's state, not the statement or its rows, so
 * the same statement may succeed later. They are retriable (STORE_UNAVAILABLE): a consumer waits
 * and tries the same block again. Everything else is STORE_QUERY_FAILED, not retriable, and a
 * consumer that sees it on an insert isolates and dead-letters the rows the store refuses; so a
 * state of the store must never land there, or a full disk would dead-letter every row.
 */
const TRANSIENT_CLICKHOUSE_CODES = new Set([
  // Load and timeouts.
  159, // TIMEOUT_EXCEEDED
  201, // QUOTA_EXCEEDED (QUOTA_EXPIRED in older servers): until the quota's interval ends
  202, // TOO_MANY_SIMULTANEOUS_QUERIES
  203, // NO_FREE_CONNECTION
  209, // SOCKET_TIMEOUT
  210, // NETWORK_ERROR
  241, // MEMORY_LIMIT_EXCEEDED
  252, // TOO_MANY_PARTS
  319, // UNKNOWN_STATUS_OF_INSERT
  364, // RECEIVED_ERROR_TOO_MANY_REQUESTS
  394, // QUERY_WAS_CANCELLED
  // Disk and I/O: space or the device comes back.
  75, // CANNOT_WRITE_TO_FILE_DESCRIPTOR
  173, // CANNOT_ALLOCATE_MEMORY
  204, // CANNOT_FSYNC
  236, // ABORTED
  242, // TABLE_IS_READ_ONLY
  243, // NOT_ENOUGH_SPACE
  425, // SYSTEM_ERROR
  999, // KEEPER_EXCEPTION
  // The schema or access an operator restores (a migration still running elsewhere, a grant, a
  // password): waiting loses nothing, dead-lettering every row would.
  60, // UNKNOWN_TABLE
  81, // UNKNOWN_DATABASE
  164, // READONLY
  192, // UNKNOWN_USER
  193, // WRONG_PASSWORD
  194, // REQUIRED_PASSWORD
  195, // IP_ADDRESS_NOT_ALLOWED
  218, // TABLE_IS_DROPPED
  291, // DATABASE_ACCESS_DENIED
  497, // ACCESS_DENIED
  516, // AUTHENTICATION_FAILED
]);

/**
 * Codes of a file or library call that failed (`CANNOT_OPEN_FILE: ... errno: 28`): transient when
 * the quoted strerror is the disk's state. Only these codes are read this way; a parse error
 * quotes the row it choked on, and a row must not be able to make itself retriable.
 */
const OS_CLICKHOUSE_CODES = new Set([
  74, // CANNOT_READ_FROM_FILE_DESCRIPTOR
  76, // CANNOT_OPEN_FILE
  77, // CANNOT_CLOSE_FILE
  88, // CANNOT_TRUNCATE_FILE
  172, // CANNOT_CREATE_DIRECTORY
  458, // CANNOT_UNLINK
  1000, // POCO_EXCEPTION
  1001, // STD_EXCEPTION
]);
const TRANSIENT_OS_ERRORS = /No space left on device|Disk quota exceeded|Input\/output error|Read-only file system|Too many open files/i;

/** A failure that carries a ClickHouse exception code, from either engine. */
export function storeErrorFromCode(code: number, what: string, cause: unknown): BurnrateError {
  const message = cause instanceof Error ? cause.message : String(cause);
  const transient = TRANSIENT_CLICKHOUSE_CODES.has(code) || (OS_CLICKHOUSE_CODES.has(code) && TRANSIENT_OS_ERRORS.test(message));
  return transient
    ? new BurnrateError('STORE_UNAVAILABLE', `${what}: ${message}`, { cause, details: { clickhouseCode: code } })
    : new BurnrateError('STORE_QUERY_FAILED', `${what}: ${message}`, { cause, details: { clickhouseCode: code } });
}

/** Short label for error messages: the statement's first words, never its bound values. */
export function describeStatement(sql: string): string {
  const flat = sql.replace(/\s+/g, ' ').trim();
  return flat.length > 80 ? `${flat.slice(0, 80)}…` : flat;
}
