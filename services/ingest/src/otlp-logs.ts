import { BurnrateError } from '@burnrate/core';
import { instantMs, type UsageEvent } from '@burnrate/schemas';
import { deterministicEventId } from './event-id.ts';
import { preview, shortJson } from './limits.ts';
import type { Identity } from './attribution.ts';
import { buildUsageEvent, type NormalizeContext, type RecordIssue, type UsageFields } from './normalize.ts';

export const CLAUDE_CODE_OTEL_SOURCE = 'claude_code_otel';

// The OTLP/HTTP JSON shapes we read. Everything is optional and unknown fields are ignored, as
// the OTLP spec requires of receivers.
export interface AnyValue {
  stringValue?: string;
  intValue?: number | string;
  doubleValue?: number | string;
  boolValue?: boolean;
}
interface LogRecord {
  timeUnixNano?: string | number;
  observedTimeUnixNano?: string | number;
  eventName?: string;
  body?: AnyValue;
  attributes?: unknown;
}

export interface RejectedLogRecord {
  /** Position of the log record in the request, counting across resources and scopes. */
  index: number;
  issues: RecordIssue[];
  /** The record with its resource attributes, verbatim, for the DLQ. */
  raw: string;
}

export interface OtlpLogsConversion {
  events: UsageEvent[];
  /** Where each of `events` came from: its record's index and raw text (for a DLQ entry made later). */
  origins: { index: number; raw: () => string }[];
  rejected: RejectedLogRecord[];
  /** Records that claim more than the sender may (another team, tool or email domain). */
  forbidden: RejectedLogRecord[];
  /** Log records that are not usage (user_prompt, tool_result, …), by event name. */
  ignored: Record<string, number>;
  /** Every log record seen. */
  total: number;
}

const EVENT_PREFIX = 'claude_code.';

/** Attributes copied from the record (never prompt or response text, which may be logged too). */
const RECORD_ATTRIBUTES = [
  'query_source',
  'terminal.type',
  'effort',
  'agent.name',
  'skill.name',
  'plugin.name',
  'request_id',
  'client_request_id',
  'duration_ms',
  'app.version',
  'app.entrypoint',
  'user.id',
  'organization.id',
] as const;

// Host facts that say nothing about who spent; the rest of the resource (service.*, and whatever
// OTEL_RESOURCE_ATTRIBUTES added, like team.id or cost_center) is kept.
const NOISY_RESOURCE = /^(?:host\.|os\.|process\.|telemetry\.|wsl\.|container\.)/;
// The event keeps the first 32 attributes it is given (record ones first); the rest are host and
// tool detail that nobody queries.
const MAX_ATTRIBUTES = 32;
// Descriptive attributes (terminal, agent name, app version, cost centre…) are cut to this, at a
// character boundary: a long one says nothing more and is not worth refusing the spend for.
const MAX_DESCRIPTIVE_LENGTH = 256;
/**
 * Attributes that say who spent or which request it was: never cut, since a cut id would be a
 * different identity. One longer than ingest.limits allows refuses the record.
 */
const IDENTITY_ATTRIBUTES: ReadonlySet<string> = new Set([
  'developer.email',
  'user.email',
  'user.id',
  'user.account_id',
  'user.account_uuid',
  'organization.id',
  'team.id',
  'session.id',
  'prompt.id',
  'request_id',
  'client_request_id',
]);

export function isRecord(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

export function asString(value: AnyValue | undefined): string | undefined {
  if (!isRecord(value)) return undefined;
  if (typeof value.stringValue === 'string') return value.stringValue;
  if (typeof value.intValue === 'string' || typeof value.intValue === 'number') return String(value.intValue);
  if (typeof value.doubleValue === 'number' || typeof value.doubleValue === 'string') return String(value.doubleValue);
  if (typeof value.boolValue === 'boolean') return String(value.boolValue);
  return undefined;
}

const NUMERIC = /^\s*-?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?\s*$/;

type NumberRead = { ok: true; value: number | undefined } | { ok: false; message: string };

/** Claude Code sends numbers as intValue numbers, intValue decimal strings, doubleValue or stringValue. */
function asNumber(value: AnyValue | undefined): NumberRead {
  if (value === undefined) return { ok: true, value: undefined };
  const candidate = value.intValue ?? value.doubleValue ?? value.stringValue;
  if (typeof candidate === 'number' && Number.isFinite(candidate)) return { ok: true, value: candidate };
  if (typeof candidate === 'string' && NUMERIC.test(candidate)) return { ok: true, value: Number(candidate) };
  return { ok: false, message: `expected a number, got ${shortJson(value)}` };
}

export function attributeMap(list: unknown): Map<string, AnyValue> {
  const map = new Map<string, AnyValue>();
  if (!Array.isArray(list)) return map;
  for (const kv of list as unknown[]) {
    if (isRecord(kv) && typeof kv.key === 'string' && isRecord(kv.value)) map.set(kv.key, kv.value);
  }
  return map;
}

type NanosRead = { ok: true; iso: string | undefined } | { ok: false; message: string };

/** An OTLP `fixed64` time in nanoseconds since 1970: a decimal string or a JSON number; 0 means unknown. */
export function readNanos(value: unknown): NanosRead {
  if (value === undefined || value === 0 || value === '0') return { ok: true, iso: undefined };
  const text = typeof value === 'number' && Number.isFinite(value) ? String(Math.trunc(value)) : value;
  if (typeof text !== 'string' || !/^\s*\d{1,30}\s*$/.test(text)) {
    const got = typeof text === 'string' ? preview(text) : shortJson(text);
    return { ok: false, message: `expected nanoseconds since 1970 as a decimal string, got ${got}` };
  }
  const nanos = BigInt(text.trim());
  if (nanos === 0n) return { ok: true, iso: undefined };
  const date = new Date(Number(nanos / 1_000_000n));
  if (Number.isNaN(date.getTime())) return { ok: false, message: `${text.trim()} nanoseconds is past any date` };
  return { ok: true, iso: date.toISOString() };
}

function eventName(record: LogRecord, attrs: Map<string, AnyValue>): string | undefined {
  const name = (typeof record.eventName === 'string' && record.eventName) || asString(attrs.get('event.name')) || asString(record.body);
  return name?.startsWith(EVENT_PREFIX) ? name.slice(EVENT_PREFIX.length) : name;
}

/**
 * The record's native key, for a deterministic event_id: the API request id when Claude Code
 * had one, else its client request id, else (session, event sequence, prompt) — all stable when
 * the exporter retries the same batch.
 */
function nativeKey(attrs: Map<string, AnyValue>): string | undefined {
  const requestId = asString(attrs.get('request_id'));
  if (requestId) return `request_id=${requestId}`;
  const clientRequestId = asString(attrs.get('client_request_id'));
  if (clientRequestId) return `client_request_id=${clientRequestId}`;
  const session = asString(attrs.get('session.id'));
  const sequence = asString(attrs.get('event.sequence'));
  if (session && sequence !== undefined) return `session=${session};sequence=${sequence};prompt=${asString(attrs.get('prompt.id')) ?? ''}`;
  return undefined;
}

/** The first `max` characters of `value`, one fewer when the cut would split a surrogate pair. */
function cut(value: string, max: number): string {
  if (value.length <= max) return value;
  const last = value.charCodeAt(max - 1);
  return value.slice(0, last >= 0xd800 && last <= 0xdbff ? max - 1 : max);
}

/** Reads attributes as trimmed strings; an empty one is absent. */
export function stringAttributes(attrs: Map<string, AnyValue>): (key: string) => string | undefined {
  return (key) => {
    const s = asString(attrs.get(key))?.trim();
    return s === '' ? undefined : s;
  };
}

/**
 * Who sent a Claude Code log record or metric point, from its attributes, and which account
 * attribute named them (for messages).
 */
export function claudeCodeIdentity(str: (key: string) => string | undefined): { identity: Identity; accountKey: string } {
  const accountKey = str('user.account_id') !== undefined ? 'user.account_id' : 'user.account_uuid';
  const accountId = str(accountKey);
  return {
    accountKey,
    identity: {
      email: str('developer.email') ?? str('user.email'),
      // The anonymous per-install user.id is the last resort: still one identity, still a signal.
      developer: accountId ?? str('user.id'),
      account_id: accountId,
      team_id: str('team.id'),
      tool: 'claude-code',
    },
  };
}

export function pickAttributes(resource: Map<string, AnyValue>, record: Map<string, AnyValue>, maxLength: number): Record<string, string> {
  // Without a prototype, a key such as `__proto__` is an own key like any other, so the limits
  // see it and refuse it instead of it silently setting the prototype.
  const out = Object.create(null) as Record<string, string>;
  let count = 0;
  const put = (key: string, value: string | undefined): void => {
    if (value === undefined || value === '' || count >= MAX_ATTRIBUTES) return;
    out[key] = IDENTITY_ATTRIBUTES.has(key) ? value : cut(value, Math.min(MAX_DESCRIPTIVE_LENGTH, maxLength));
    count += 1;
  };
  for (const key of RECORD_ATTRIBUTES) put(key, asString(record.get(key)));
  for (const [key, value] of resource) {
    if (!NOISY_RESOURCE.test(key) && !Object.hasOwn(out, key)) put(key, asString(value));
  }
  return { ...out };
}

function toFields(
  record: LogRecord,
  resource: Map<string, AnyValue>,
  own: Map<string, AnyValue>,
  maxAttributeLength: number,
): { fields?: UsageFields; issues: RecordIssue[] } {
  // Standard attributes may sit on the resource or on each record; the record wins.
  const attrs = new Map([...resource, ...own]);
  const str = stringAttributes(attrs);
  const issues: RecordIssue[] = [];
  const num = (key: string, whole: boolean): number | undefined => {
    const read = asNumber(attrs.get(key));
    if (!read.ok) {
      issues.push({ field: `attributes.${key}`, message: read.message });
      return undefined;
    }
    if (read.value !== undefined && (read.value < 0 || (whole && !Number.isInteger(read.value)))) {
      issues.push({ field: `attributes.${key}`, message: `expected a ${whole ? 'whole ' : ''}number ≥ 0, got ${read.value}` });
      return undefined;
    }
    return read.value;
  };

  const model = str('model');
  if (!model) issues.push({ field: 'attributes.model', message: 'an api_request event needs a model' });
  const input_tokens = num('input_tokens', true);
  const output_tokens = num('output_tokens', true);
  const cache_read_tokens = num('cache_read_tokens', true);
  const cache_write_tokens = num('cache_creation_tokens', true);
  const micros = num('cost_usd_micros', false);
  const dollars = num('cost_usd', false);
  // Micros are exact integers; the double is kept for versions that do not send them.
  const cost_usd = micros !== undefined ? micros / 1e6 : dollars;

  let occurred_at: string | undefined;
  let timePath = 'attributes.event.timestamp';
  const stamp = str('event.timestamp');
  if (stamp !== undefined) {
    // The strict reader the bus uses: Date.parse took "0", "12" and "May 32" as times.
    const t = instantMs(stamp);
    if (Number.isNaN(t))
      issues.push({ field: timePath, message: `expected an ISO-8601 timestamp such as 2026-11-28T14:05:00.000Z, got ${preview(stamp)}` });
    else occurred_at = new Date(t).toISOString();
  } else {
    for (const name of ['timeUnixNano', 'observedTimeUnixNano'] as const) {
      const read = readNanos(record[name]);
      if (!read.ok) issues.push({ field: name, message: read.message });
      else if (read.iso === undefined) continue;
      else {
        occurred_at = read.iso;
        timePath = name;
      }
      break;
    }
    if (!occurred_at && issues.length === 0)
      issues.push({
        field: 'timeUnixNano',
        message: 'no event time: event.timestamp, timeUnixNano and observedTimeUnixNano are all missing or zero',
      });
  }
  if (issues.length > 0 || !model || !occurred_at) return { issues };

  const { identity, accountKey } = claudeCodeIdentity(str);
  const requestId = str('request_id');
  const key = nativeKey(attrs);
  return {
    issues,
    fields: {
      event_id: deterministicEventId(CLAUDE_CODE_OTEL_SOURCE, key ?? { record, resource: Object.fromEntries(resource) }),
      occurred_at,
      identity,
      model,
      provider: 'anthropic',
      tool: 'claude-code',
      session_id: str('session.id'),
      prompt_id: str('prompt.id'),
      speed: str('speed'),
      input_tokens,
      output_tokens,
      cache_read_tokens,
      cache_write_tokens,
      cost_usd,
      // The same request id appears in the JSONL transcripts (requestId), so that source can
      // name the same group and the spend counts once.
      overlap_group: requestId ? `anthropic-request:${requestId}` : undefined,
      attributes: pickAttributes(resource, own, maxAttributeLength),
      // What the limits name in a rejection: the attribute the value came from.
      paths: {
        occurred_at: timePath,
        model: 'attributes.model',
        session_id: 'attributes.session.id',
        prompt_id: 'attributes.prompt.id',
        speed: 'attributes.speed',
        overlap_group: 'attributes.request_id',
        input_tokens: 'attributes.input_tokens',
        output_tokens: 'attributes.output_tokens',
        cache_read_tokens: 'attributes.cache_read_tokens',
        cache_write_tokens: 'attributes.cache_creation_tokens',
        cost_usd: micros !== undefined ? 'attributes.cost_usd_micros' : 'attributes.cost_usd',
        developer_email: str('developer.email') !== undefined ? 'attributes.developer.email' : 'attributes.user.email',
        developer: identity.account_id !== undefined ? `attributes.${accountKey}` : 'attributes.user.id',
        account_id: `attributes.${accountKey}`,
        team: 'attributes.team.id',
      },
    },
  };
}

/** Log records in an ExportLogsServiceRequest, across resources and scopes, whatever their event; 0 when it is not one. */
export function countLogRecords(body: unknown): number {
  if (!isRecord(body) || !Array.isArray(body.resourceLogs)) return 0;
  let count = 0;
  for (const rl of body.resourceLogs as unknown[]) {
    if (!isRecord(rl) || !Array.isArray(rl.scopeLogs)) continue;
    for (const scope of rl.scopeLogs as unknown[]) {
      if (isRecord(scope) && Array.isArray(scope.logRecords)) count += scope.logRecords.length;
    }
  }
  return count;
}

/**
 * Converts an OTLP/HTTP JSON ExportLogsServiceRequest from Claude Code into UsageEvents: one per
 * `api_request` event. Other events are counted, not rejected: they are not usage. A malformed
 * api_request is rejected with its problems. Throws INPUT_INVALID when the body is not an
 * ExportLogsServiceRequest at all.
 */
export function otlpLogsToUsageEvents(body: unknown, ctx: NormalizeContext): OtlpLogsConversion {
  if (!isRecord(body))
    throw new BurnrateError('INPUT_INVALID', 'expected an OTLP ExportLogsServiceRequest: a JSON object with resourceLogs');
  const resourceLogs = body.resourceLogs ?? [];
  if (!Array.isArray(resourceLogs)) throw new BurnrateError('INPUT_INVALID', 'resourceLogs: expected an array');

  const out: OtlpLogsConversion = { events: [], origins: [], rejected: [], forbidden: [], ignored: {}, total: 0 };
  const context = { ...ctx, source: CLAUDE_CODE_OTEL_SOURCE };
  for (const rl of resourceLogs as unknown[]) {
    if (!isRecord(rl)) continue;
    const resource = attributeMap(isRecord(rl.resource) ? rl.resource.attributes : undefined);
    const scopes = Array.isArray(rl.scopeLogs) ? (rl.scopeLogs as unknown[]) : [];
    for (const scope of scopes) {
      const records = isRecord(scope) && Array.isArray(scope.logRecords) ? (scope.logRecords as unknown[]) : [];
      for (const item of records) {
        const index = out.total++;
        const record: LogRecord = isRecord(item) ? item : {};
        const own = attributeMap(record.attributes);
        const name = eventName(record, own) ?? '(unnamed)';
        if (name !== 'api_request') {
          out.ignored[name] = (out.ignored[name] ?? 0) + 1;
          continue;
        }
        const raw = (): string => JSON.stringify({ resource: { attributes: Object.fromEntries(resource) }, logRecord: item });
        const { fields, issues } = toFields(record, resource, own, ctx.limits.max_attribute_length);
        const result = fields ? buildUsageEvent(fields, context) : { ok: false as const, issues };
        if (result.ok) {
          out.events.push(result.event);
          out.origins.push({ index, raw });
        } else if ('forbidden' in result) out.forbidden.push({ index, issues: result.issues, raw: raw() });
        else out.rejected.push({ index, issues: result.issues, raw: raw() });
      }
    }
  }
  return out;
}
