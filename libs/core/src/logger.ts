import { pino, type Logger, type LoggerOptions } from 'pino';

export type { Logger } from 'pino';

/**
 * Paths pino censors wherever they appear in a log object. Secrets reach the process only from
 * env; this is the net for when one ends up inside an error or a client's options anyway.
 */
export const REDACT_PATHS = [
  'token',
  'password',
  'secret',
  'authorization',
  'webhook_url',
  'smtp_url',
  '*.token',
  '*.password',
  '*.secret',
  '*.pass',
  '*.authorization',
  '*.Authorization',
  '*.webhook_url',
  '*.webhookUrl',
  '*.smtp_url',
  '*.smtpUrl',
  '*.headers.authorization',
  '*.headers.cookie',
  '*.auth.pass',
  '*.auth.user',
] as const;

export interface LoggerConfig {
  level?: string;
  /** Where lines go; defaults to stdout. Tests pass a stream to read what was logged. */
  destination?: pino.DestinationStream;
  name?: string;
}

export function createLogger(config: LoggerConfig = {}): Logger {
  const options: LoggerOptions = {
    name: config.name ?? 'burnrate',
    level: config.level ?? 'info',
    redact: { paths: [...REDACT_PATHS], censor: '[redacted]' },
    serializers: { err: pino.stdSerializers.err },
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: { level: (label) => ({ level: label }) },
  };
  return config.destination ? pino(options, config.destination) : pino(options);
}

/** Hides the password in a URL such as smtp://user:pass@host:587 before it is shown anywhere. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = 'redacted';
    return u.toString();
  } catch {
    return '[unparseable url]';
  }
}
