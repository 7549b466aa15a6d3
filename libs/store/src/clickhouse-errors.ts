import { BurnrateError } from '@burnrate/core';

/**
 * ClickHouse exception codes that describe the engine's state rather than the statement, so the
 * same statement may succeed later: timeouts, overload, memory, too many parts, network, and the
 * disk (full, or failing to write): those are never the rows' fault, so a caller that sets
 * refused rows aside must retry them instead.
 */
const TRANSIENT_CLICKHOUSE_CODES = new Set([
  74, // CANNOT_READ_FROM_FILE_DESCRIPTOR
  75, // CANNOT_WRITE_TO_FILE_DESCRIPTOR
  76, // CANNOT_OPEN_FILE
  77, // CANNOT_CLOSE_FILE
  88, // CANNOT_TRUNCATE_FILE
  159, // TIMEOUT_EXCEEDED
  172, // CANNOT_CREATE_DIRECTORY
  202, // TOO_MANY_SIMULTANEOUS_QUERIES
  203, // NO_FREE_CONNECTION
  204, // CANNOT_FSYNC
  209, // SOCKET_TIMEOUT
  210, // NETWORK_ERROR
  241, // MEMORY_LIMIT_EXCEEDED
  242, // TABLE_IS_READ_ONLY
  243, // NOT_ENOUGH_SPACE: chdb reserves 1 MiB per insert, so it refuses before the disk is quite full
  252, // TOO_MANY_PARTS
  319, // UNKNOWN_STATUS_OF_INSERT
  394, // QUERY_WAS_CANCELLED
  425, // SYSTEM_ERROR
  999, // KEEPER_EXCEPTION
]);

/** A failure that carries a ClickHouse exception code, from either engine. */
export function storeErrorFromCode(code: number, what: string, cause: unknown): BurnrateError {
  const message = cause instanceof Error ? cause.message : String(cause);
  return TRANSIENT_CLICKHOUSE_CODES.has(code)
    ? new BurnrateError('STORE_UNAVAILABLE', `${what}: ${message}`, { cause, details: { clickhouseCode: code } })
    : new BurnrateError('STORE_QUERY_FAILED', `${what}: ${message}`, { cause, details: { clickhouseCode: code } });
}

/** Short label for error messages: the statement's first words, never its bound values. */
export function describeStatement(sql: string): string {
  const flat = sql.replace(/\s+/g, ' ').trim();
  return flat.length > 80 ? `${flat.slice(0, 80)}…` : flat;
}
