import type { Logger } from '@burnrate/core';
import { logLevel, type logCreator } from 'kafkajs';

/**
 * Routes kafkajs's own logs into the process's pino logger (child `component: 'kafkajs'`), so
 * they carry the same redaction and format as everything else instead of going to console.
 */
export function kafkaLogCreator(log: Logger): logCreator {
  const kafkaLog = log.child({ component: 'kafkajs' });
  return () =>
    ({ namespace, level, log: entry }) => {
      const { message, timestamp: _timestamp, ...extra } = entry;
      const fields = { namespace, ...extra };
      switch (effectiveLevel(namespace, level)) {
        case logLevel.ERROR:
        case logLevel.NOTHING:
          kafkaLog.error(fields, message);
          break;
        case logLevel.WARN:
          kafkaLog.warn(fields, message);
          break;
        case logLevel.INFO:
          kafkaLog.info(fields, message);
          break;
        default:
          kafkaLog.debug(fields, message);
      }
    };
}

/**
 * kafkajs logs every broker error answer at ERROR from its Connection layer ("The group is
 * rebalancing", "The coordinator is loading") although it retries them; a real failure surfaces
 * again from the caller (a crash, a rejected send). At WARN they stop paging anyone on each deploy.
 */
function effectiveLevel(namespace: string, level: logLevel): logLevel {
  return namespace === 'Connection' && level === logLevel.ERROR ? logLevel.WARN : level;
}

/** The kafkajs level matching the pino logger's, so kafkajs does not build entries pino drops. */
export function kafkaLogLevel(log: Logger): logLevel {
  switch (log.level) {
    case 'silent':
      return logLevel.NOTHING;
    case 'fatal':
    case 'error':
      return logLevel.ERROR;
    case 'warn':
      return logLevel.WARN;
    case 'info':
      return logLevel.INFO;
    default:
      return logLevel.DEBUG;
  }
}
