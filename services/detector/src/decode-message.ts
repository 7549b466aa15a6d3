import type { ConsumedMessage } from '@burnrate/bus';
import type { Logger } from '@burnrate/core';

/**
 * Parses and validates one consumed message against its topic's schema. A message that is not
 * JSON or not valid is logged (with its position and the first problems) and skipped, so one bad
 * record cannot stop a partition; the caller counts it.
 */
export function decodeMessage<T>(
  m: ConsumedMessage,
  schema: {
    safeParse(
      value: unknown,
    ): { success: true; data: T } | { success: false; error: { issues: readonly { path: readonly PropertyKey[]; message: string }[] } };
  },
  what: string,
  log: Logger,
): T | undefined {
  let json: unknown = m.decoded;
  try {
    json ??= JSON.parse(m.value);
  } catch {
    log.warn({ partition: m.partition, offset: m.offset, key: m.key }, `${what} is not JSON; skipped`);
    return undefined;
  }
  const parsed = schema.safeParse(json);
  if (!parsed.success) {
    const issues = parsed.error.issues.slice(0, 5).map((i) => `${i.path.map(String).join('.') || '(root)'}: ${i.message}`);
    log.warn({ partition: m.partition, offset: m.offset, key: m.key, issues }, `${what} failed validation; skipped`);
    return undefined;
  }
  return parsed.data;
}
