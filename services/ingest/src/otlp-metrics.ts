import { BurnrateError } from '@burnrate/core';
import type { UsageEvent } from '@burnrate/schemas';
import { deterministicEventId } from './event-id.ts';
import {
  type AnyValue,
  asString,
  attributeMap,
  claudeCodeIdentity,
  isRecord,
  pickAttributes,
  readNanos,
  stringAttributes,
} from './otlp-logs.ts';
import { buildUsageEvent, type NormalizeContext, type RecordIssue, type UsageFields } from './normalize.ts';

export const CLAUDE_CODE_METRICS_SOURCE = 'claude_code_metrics';

const COST = 'claude_code.cost.usage';
const TOKENS = 'claude_code.token.usage';
/** OTLP AggregationTemporality. */
const DELTA = 1;
const CUMULATIVE = 2;
/** claude_code.token.usage `type` → the event's token field. */
const TOKEN_TYPES: Record<string, 'input_tokens' | 'output_tokens' | 'cache_read_tokens' | 'cache_write_tokens'> = {
  input: 'input_tokens',
  output: 'output_tokens',
  cacheRead: 'cache_read_tokens',
  cacheCreation: 'cache_write_tokens',
};

export interface OtlpMetricsConversion {
  events: UsageEvent[];
  /** Data points that could not become an event, each with its problems. */
  rejected: { index: number; issues: RecordIssue[]; raw: string }[];
  /** Cost and token data points read. */
  points: number;
  /** Cumulative data points, not read (see the header). */
  cumulative: number;
}

/** One interval of one session and model: its cost and tokens as the data points of that interval gave them. */
interface Interval {
  index: number;
  resource: Map<string, AnyValue>;
  attrs: Map<string, AnyValue>;
  start: string | undefined;
  end: string;
  cost: number;
  tokens: Partial<Record<(typeof TOKEN_TYPES)[string], number>>;
  raw: unknown[];
}

/**
 * Claude Code's `claude_code.cost.usage` and `claude_code.token.usage` metrics as usage events of
 * source `claude_code_metrics`: one per session, model and export interval (granularity `1m`,
 * period = the data point's start and time, 60 s with the exporter's default interval), cost
 * reported, tokens from the token metric's data points of the same interval.
 *
 * They count the same spend as the api_request log events, so they are a report of it, not more
 * of it: detection judges them only where no log events of the org's Claude Code arrive (source
 * precedence, LIVE_SILENCE_MS), and the reconciliation counts them for a day no provider report
 * covers, with the delta to the log events: spend the metrics saw and the events did not is
 * events lost on the way.
 *
 * Delta temporality only (Claude Code's default): a cumulative point holds everything since the
 * session started, and turning it into increments needs the previous point of its series, which
 * another instance may have had. Cumulative points are counted and named in the answer.
 */
export function otlpMetricsToUsageEvents(body: unknown, ctx: NormalizeContext): OtlpMetricsConversion {
  if (!isRecord(body))
    throw new BurnrateError('INPUT_INVALID', 'expected an OTLP ExportMetricsServiceRequest: a JSON object with resourceMetrics');
  const resourceMetrics = body.resourceMetrics ?? [];
  if (!Array.isArray(resourceMetrics)) throw new BurnrateError('INPUT_INVALID', 'resourceMetrics: expected an array');

  const out: OtlpMetricsConversion = { events: [], rejected: [], points: 0, cumulative: 0 };
  const intervals = new Map<string, Interval>();
  for (const rm of resourceMetrics as unknown[]) {
    if (!isRecord(rm)) continue;
    const resource = attributeMap(isRecord(rm.resource) ? rm.resource.attributes : undefined);
    const scopes = Array.isArray(rm.scopeMetrics) ? (rm.scopeMetrics as unknown[]) : [];
    for (const scope of scopes) {
      const metrics = isRecord(scope) && Array.isArray(scope.metrics) ? (scope.metrics as unknown[]) : [];
      for (const metric of metrics) {
        if (!isRecord(metric) || (metric.name !== COST && metric.name !== TOKENS) || !isRecord(metric.sum)) continue;
        const points = Array.isArray(metric.sum.dataPoints) ? (metric.sum.dataPoints as unknown[]) : [];
        if (Number(metric.sum.aggregationTemporality) === CUMULATIVE) {
          out.cumulative += points.length;
          continue;
        }
        for (const point of points) {
          const index = out.points++;
          const issues: RecordIssue[] = [];
          const dp = isRecord(point) ? point : {};
          const attrs = attributeMap(dp.attributes);
          const raw = { metric: metric.name, temporality: metric.sum.aggregationTemporality ?? DELTA, dataPoint: point };
          const value = dp.asDouble ?? dp.asInt;
          const amount = typeof value === 'string' && value.trim() !== '' ? Number(value) : value;
          if (typeof amount !== 'number' || !Number.isFinite(amount) || amount < 0) {
            issues.push({ field: 'asDouble', message: `expected a number ≥ 0, got ${JSON.stringify(value) ?? 'nothing'}` });
          }
          const end = readNanos(dp.timeUnixNano);
          const start = readNanos(dp.startTimeUnixNano);
          if (!end.ok) issues.push({ field: 'timeUnixNano', message: end.message });
          else if (end.iso === undefined) issues.push({ field: 'timeUnixNano', message: 'a data point needs its time' });
          if (!start.ok) issues.push({ field: 'startTimeUnixNano', message: start.message });
          const tokenField = metric.name === TOKENS ? TOKEN_TYPES[asString(attrs.get('type')) ?? ''] : undefined;
          if (metric.name === TOKENS && tokenField === undefined) continue;
          if (issues.length > 0 || !end.ok || end.iso === undefined || !start.ok) {
            out.rejected.push({ index, issues, raw: JSON.stringify({ resource: Object.fromEntries(resource), ...raw }) });
            continue;
          }
          // One interval per series and export: the token points of a session and model differ
          // only by `type`, which the key leaves out, and share the export's time; their start
          // times can differ by a millisecond (each series starts at its first measurement), so
          // the interval starts at the earliest.
          const series = [...new Map([...resource, ...attrs])].filter(([k]) => k !== 'type').map(([k, v]) => [k, asString(v)]);
          const key = JSON.stringify([series.sort(), end.iso]);
          let interval = intervals.get(key);
          if (interval === undefined) {
            interval = { index, resource, attrs, start: start.iso, end: end.iso, cost: 0, tokens: {}, raw: [] };
            intervals.set(key, interval);
          } else if (start.iso !== undefined && (interval.start === undefined || start.iso < interval.start)) interval.start = start.iso;
          interval.raw.push(raw);
          if (tokenField === undefined) interval.cost += amount as number;
          else interval.tokens[tokenField] = (interval.tokens[tokenField] ?? 0) + Math.round(amount as number);
        }
      }
    }
  }
  const context = { ...ctx, source: CLAUDE_CODE_METRICS_SOURCE };
  for (const interval of intervals.values()) {
    // Nothing spent in the interval (a token point alone, or zero): no event to count.
    if (interval.cost === 0) continue;
    const attrs = new Map([...interval.resource, ...interval.attrs]);
    const str = stringAttributes(attrs);
    const model = str('model');
    const start = interval.start ?? interval.end;
    const raw = (): string => JSON.stringify({ resource: Object.fromEntries(interval.resource), points: interval.raw });
    if (model === undefined) {
      out.rejected.push({
        index: interval.index,
        issues: [{ field: 'attributes.model', message: `a ${COST} data point needs a model` }],
        raw: raw(),
      });
      continue;
    }
    const fields: UsageFields = {
      event_id: deterministicEventId(CLAUDE_CODE_METRICS_SOURCE, {
        series: [...attrs].map(([k, v]) => [k, asString(v)]).sort(),
        start,
        end: interval.end,
      }),
      occurred_at: start,
      granularity: '1m',
      period_start: start,
      period_end: interval.end,
      identity: claudeCodeIdentity(str).identity,
      model,
      provider: 'anthropic',
      tool: 'claude-code',
      session_id: str('session.id'),
      requests: 0,
      ...interval.tokens,
      cost_usd: interval.cost,
      attributes: pickAttributes(interval.resource, interval.attrs, ctx.limits.max_attribute_length),
      paths: { model: 'attributes.model', session_id: 'attributes.session.id', cost_usd: 'asDouble', team: 'attributes.team.id' },
    };
    const result = buildUsageEvent(fields, context);
    if (result.ok) out.events.push(result.event);
    else out.rejected.push({ index: interval.index, issues: result.issues, raw: raw() });
  }
  return out;
}
