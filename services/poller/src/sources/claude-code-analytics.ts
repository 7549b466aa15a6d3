import { BurnrateError } from '@burnrate/core';
import { z } from 'zod';
import { attributesOf, type Bucket, type BucketRow, DAY_MS, present, readAllPages, type UsageSource } from '../source.ts';

export const CLAUDE_CODE_ANALYTICS_SOURCE = 'claude_code_analytics';

const count = z.number().int().nonnegative();

const Actor = z.discriminatedUnion('type', [
  z.looseObject({ type: z.literal('user_actor'), email_address: z.string().min(1) }),
  // A key's name, not its id: the report has no key id.
  z.looseObject({ type: z.literal('api_actor'), api_key_name: z.string().min(1) }),
]);

const ModelUsage = z.looseObject({
  model: z.string().min(1),
  tokens: z.looseObject({ input: count, output: count, cache_read: count, cache_creation: count }),
  // A number of cents (186 is $1.86), estimated at list price.
  estimated_cost: z.looseObject({ amount: z.number().nonnegative(), currency: z.string() }),
});

const AnalyticsRecord = z.looseObject({
  date: z.iso.datetime({ offset: true }),
  organization_id: z.string().min(1),
  actor: Actor,
  customer_type: z.string().nullish(),
  subscription_type: z.string().nullish(),
  terminal_type: z.string().nullish(),
  // Remote and local use of one person come as two records.
  is_remote: z.boolean().nullish(),
  model_breakdown: z.array(ModelUsage),
});
type AnalyticsRecord = z.infer<typeof AnalyticsRecord>;

const Page = z.looseObject({ data: z.array(AnalyticsRecord), has_more: z.boolean(), next_page: z.string().nullish() });

/**
 * One record → one row per model: the report's dedupe key is the day, the organisation, the
 * actor, the terminal, remote or local, and the model. The cost is Anthropic's list-price
 * estimate (reported, in cents), the tokens beside it are priced by the catalog for the cross-check.
 */
export function claudeCodeAnalyticsRows(record: AnalyticsRecord): BucketRow[] {
  const day = new Date(record.date);
  const start = day.toISOString();
  const end = new Date(day.getTime() + DAY_MS).toISOString();
  const actor = record.actor;
  const who = actor.type === 'user_actor' ? { email: actor.email_address } : { api_key_name: actor.api_key_name };
  return record.model_breakdown.map((usage) => {
    if (usage.estimated_cost.currency.toUpperCase() !== 'USD') {
      throw new BurnrateError(
        'PROVIDER_REJECTED',
        `claude_code report ${start}: currency ${usage.estimated_cost.currency}, only USD is converted`,
      );
    }
    return {
      key: {
        date: start,
        organization_id: record.organization_id,
        actor_type: actor.type,
        actor: actor.type === 'user_actor' ? actor.email_address : actor.api_key_name,
        terminal_type: record.terminal_type ?? null,
        is_remote: record.is_remote ?? null,
        model: usage.model,
      },
      fields: {
        occurred_at: start,
        granularity: '1d',
        period_start: start,
        period_end: end,
        identity: { ...who, tool: 'claude-code' },
        provider: 'anthropic',
        tool: 'claude-code',
        model: usage.model,
        // The report counts sessions, not requests.
        requests: 0,
        input_tokens: usage.tokens.input,
        output_tokens: usage.tokens.output,
        cache_read_tokens: usage.tokens.cache_read,
        cache_write_tokens: usage.tokens.cache_creation,
        cost_usd: usage.estimated_cost.amount / 100,
        attributes: attributesOf({
          organization_id: record.organization_id,
          api_key_name: actor.type === 'api_actor' ? actor.api_key_name : undefined,
          customer_type: present(record.customer_type),
          subscription_type: present(record.subscription_type),
          terminal_type: present(record.terminal_type),
          is_remote: record.is_remote,
        }),
        paths: { cost_usd: 'model_breakdown.estimated_cost.amount', cache_write_tokens: 'model_breakdown.tokens.cache_creation' },
      },
      raw: record,
    };
  });
}

const day = (ms: number): string => new Date(ms).toISOString().slice(0, 10);

/**
 * `GET /v1/organizations/usage_report/claude_code`: per user (or API key) per day. A call covers
 * exactly one UTC day, so the window is read a day at a time, every page of each.
 */
export const claudeCodeAnalytics: UsageSource = {
  source: CLAUDE_CODE_ANALYTICS_SOURCE,
  granularity: '1d',
  bucketMs: DAY_MS,
  async read(window, http, signal) {
    const buckets: Bucket[] = [];
    for (let start = Math.floor(window.start / DAY_MS) * DAY_MS; start < window.end; start += DAY_MS) {
      const query = new URLSearchParams({ starting_at: day(start), limit: '1000' });
      const records = await readAllPages(http, { path: '/v1/organizations/usage_report/claude_code', query }, Page, signal);
      buckets.push({ start, end: start + DAY_MS, rows: records.flatMap(claudeCodeAnalyticsRows) });
    }
    return buckets;
  },
};
