import { USAGE_EVENT_CAPS } from '@burnrate/schemas';
import { z } from 'zod';
import { formatDuration } from '../duration.ts';
import { Duration } from './primitives.ts';
import { IngestTrustConfig } from './sources.ts';

const DAY_MS = 86_400_000;

/**
 * Days `usage_events_v1` keeps a raw event (its TTL in infra/clickhouse/0001_usage_events.sql).
 * Ingest must not accept anything older: the row would be deleted on arrival while
 * spend_hourly_v1 kept its spend, so the two tables would disagree for good.
 */
export const RAW_EVENT_RETENTION_DAYS = 400;

/**
 * What one record may carry before ingest refuses it. The defaults sit far above what any real
 * organisation sends, so they only ever stop mistakes and abuse; a refused record goes to the
 * dead-letter queue with the field, its value and the limit, and the rest of its batch is kept.
 */
export const IngestLimits = z
  .object({
    // A single model call costs at most tens of dollars; the largest daily bucket of one API key
    // and model at a big organisation is in the thousands. 100k is far from both.
    max_cost_usd_per_event: z
      .number()
      .finite()
      .positive()
      .max(USAGE_EVENT_CAPS.maxCostUsd)
      .default(100_000)
      .describe('Largest cost_usd of one event (or cost computed from its tokens); at most 1e9.'),
    // Each token count and the request count of one event. The largest context windows hold about
    // 2M tokens a call, and a heavy agent user's daily bucket reaches about 1e9 cache-read tokens;
    // 1e11 leaves a hundredfold margin above that and still keeps totals exact on the bus.
    max_tokens_per_event: z
      .number()
      .int()
      .positive()
      .max(USAGE_EVENT_CAPS.maxCount)
      .default(100_000_000_000)
      .describe('Largest token count (each field) and request count of one event; at most 1e12.'),
    // occurred_at, period_start and period_end must be within [now − max_age, now + max_future]
    // of the ingest clock.
    max_age: Duration.refine((ms) => ms <= RAW_EVENT_RETENTION_DAYS * DAY_MS, {
      message: `must be at most ${RAW_EVENT_RETENTION_DAYS}d: the store keeps raw events ${RAW_EVENT_RETENTION_DAYS} days, so an older event would be deleted on arrival while the hourly spend kept it`,
    })
      .refine((ms) => ms >= DAY_MS, { message: 'must be at least 1d' })
      .default(RAW_EVENT_RETENTION_DAYS * DAY_MS)
      .meta({ description: 'Oldest event time accepted, before now; at most 400d, the raw-event retention.', examples: ['400d'] }),
    // Clock skew of an emitter, and a daily bucket that ends at tomorrow's midnight.
    max_future: Duration.refine((ms) => ms <= 30 * DAY_MS, {
      error: (issue) => `must be at most 30d, got ${formatDuration(issue.input as number)}`,
    })
      .default(DAY_MS)
      .meta({ description: 'Latest event time accepted, after now (clock skew, daily buckets); at most 30d.', examples: ['1d'] }),
    // Identifiers and names (model, session_id, developer, attribute keys…). Claude Code's
    // user.id is 64 characters, hence the floor. Emails are held to 254 (RFC 5321) below this.
    max_text_length: z
      .number()
      .int()
      .min(64)
      .max(4096)
      .default(512)
      .describe('Longest id or name (model, session_id, developer, attribute keys…); emails stop at 254.'),
    // Attribute values: descriptive text (terminal, agent name, app version…).
    max_attribute_length: z.number().int().min(64).max(16_384).default(1024).describe('Longest attribute value.'),
    // Records (POST /v1/events) or log records (POST /v1/logs) in one request; more is a 413.
    max_records_per_request: z
      .number()
      .int()
      .positive()
      .max(100_000)
      .default(5000)
      .describe('Records in one POST /v1/events, log records in one POST /v1/logs; more is a 413.'),
  })
  .strict();
export type IngestLimits = z.infer<typeof IngestLimits>;

/** The `ingest` block of burnrate.yaml: what the receivers accept, and from whom (sources.ts). */
export const IngestConfig = z
  .object({
    limits: IngestLimits.prefault({}).describe('What one record may carry before ingest refuses it.'),
    ...IngestTrustConfig,
    dedupe_window: IngestTrustConfig.dedupe_window
      .refine((ms) => ms >= 3_600_000, {
        message: 'must be at least 1h: a resend after a crash can come minutes or hours later',
      })
      .describe(
        'How long an accepted event_id is remembered: a resend within it is a duplicate (accepted, counted once), the same id with other content is refused.',
      ),
  })
  .strict();
export type IngestConfig = z.infer<typeof IngestConfig>;
