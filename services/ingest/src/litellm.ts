import { deterministicEventId } from './event-id.ts';
import { preview, shortJson } from './limits.ts';
import { buildUsageEvent, type NormalizeContext, type NormalizeResult, type RecordIssue } from './normalize.ts';

/** The `source` of events from a LiteLLM proxy's generic API callback. */
export const LITELLM_SOURCE = 'litellm';

/**
 * One LiteLLM `StandardLoggingPayload`, as the proxy's generic API logger posts it
 * (`callback_type: generic_api`, `log_format` json_array, ndjson or single), to a usage event.
 *
 * - event id: from the payload `id` (LiteLLM's request id, the SpendLogs primary key), so a resend
 *   is a duplicate;
 * - time: `startTime` (epoch seconds, a float);
 * - who: the virtual key's user (`metadata.user_api_key_user_email`, `user_api_key_user_id`), else
 *   the `end_user`; the key's team (`user_api_key_team_alias`, else `user_api_key_team_id`) is the
 *   team the emitter declares, placed through `ownership` rules like OTel `team.id`; the key
 *   (`user_api_key_hash`, `user_api_key_alias`) and project are kept for ownership rules too;
 * - cost: `response_cost` (USD) as reported, with the catalog's price beside it from the tokens;
 * - tokens: LiteLLM reports OpenAI-style `prompt_tokens`, which include cached input; the raw
 *   `usage_object` says how much was read from (`cache_read_input_tokens`,
 *   `prompt_tokens_details.cached_tokens`) or written to (`cache_creation_input_tokens`) the
 *   cache, and that is taken out of the input;
 * - `status: failure` and `cache_hit: true` (LiteLLM's own response cache) spent nothing at a
 *   provider: they are counted as ignored, not refused.
 */
export function normalizeLiteLlm(raw: unknown, ctx: NormalizeContext): NormalizeResult | { ignored: string } {
  if (!isObject(raw))
    return refused([{ field: '(record)', message: `expected a LiteLLM StandardLoggingPayload object, got ${shortJson(raw)}` }]);
  if (raw.status === 'failure') return { ignored: 'failure' };
  if (raw.cache_hit === true) return { ignored: 'cache_hit' };

  const issues: RecordIssue[] = [];
  const metadata = isObject(raw.metadata) ? raw.metadata : {};
  const usage = usageObject(raw, metadata);
  const text = (value: unknown): string | undefined => (typeof value === 'string' && value.trim() !== '' ? value.trim() : undefined);
  const count = (field: string, value: unknown): number | undefined => {
    if (value === undefined || value === null) return undefined;
    if (typeof value === 'number' && Number.isInteger(value) && value >= 0) return value;
    issues.push({ field, message: `expected a whole number ≥ 0, got ${shortJson(value)}` });
    return undefined;
  };

  const id = text(raw.id);
  if (id === undefined) issues.push({ field: 'id', message: 'a LiteLLM payload needs its request id (id)' });
  const model = text(raw.model) ?? text(raw.model_group);
  if (model === undefined) issues.push({ field: 'model', message: 'a LiteLLM payload needs a model' });
  let occurred_at: string | undefined;
  if (typeof raw.startTime === 'number' && Number.isFinite(raw.startTime) && raw.startTime > 0) {
    const at = new Date(Math.round(raw.startTime * 1000));
    if (!Number.isNaN(at.getTime())) occurred_at = at.toISOString();
  }
  if (occurred_at === undefined) {
    issues.push({ field: 'startTime', message: `expected epoch seconds (a number such as 1764324000.5), got ${shortJson(raw.startTime)}` });
  }
  let cost_usd: number | undefined;
  if (raw.response_cost !== undefined && raw.response_cost !== null) {
    if (typeof raw.response_cost === 'number' && Number.isFinite(raw.response_cost) && raw.response_cost >= 0) cost_usd = raw.response_cost;
    else issues.push({ field: 'response_cost', message: `expected a cost in USD ≥ 0, got ${shortJson(raw.response_cost)}` });
  }
  const prompt = count('prompt_tokens', raw.prompt_tokens);
  const output_tokens = count('completion_tokens', raw.completion_tokens);
  const details = isObject(usage.prompt_tokens_details) ? usage.prompt_tokens_details : {};
  const cacheRead =
    count('metadata.usage_object.cache_read_input_tokens', usage.cache_read_input_tokens) ??
    count('metadata.usage_object.prompt_tokens_details.cached_tokens', details.cached_tokens);
  const cacheWrite = count('metadata.usage_object.cache_creation_input_tokens', usage.cache_creation_input_tokens);
  if (issues.length > 0 || id === undefined || model === undefined || occurred_at === undefined) return refused(issues);

  const cached = (cacheRead ?? 0) + (cacheWrite ?? 0);
  if (prompt !== undefined && cached > prompt) {
    return refused([
      {
        field: 'prompt_tokens',
        message: `${prompt} prompt tokens cannot include ${cached} cache tokens (usage_object); send the payload LiteLLM logged unchanged`,
      },
    ]);
  }
  const provider = text(raw.custom_llm_provider);
  const teamAlias = text(metadata.user_api_key_team_alias);
  const attributes: Record<string, string> = {};
  for (const [key, value] of [
    ['litellm.call_type', raw.call_type],
    ['litellm.model_group', raw.model_group],
    ['litellm.custom_llm_provider', provider],
    ['litellm.trace_id', raw.trace_id],
    ['litellm.team_id', metadata.user_api_key_team_id],
    ['litellm.team_alias', teamAlias],
    ['litellm.key_alias', metadata.user_api_key_alias],
    ['litellm.end_user', raw.end_user],
  ] as const) {
    const v = text(value);
    if (v !== undefined) attributes[key] = v;
  }
  const tags = Array.isArray(raw.request_tags) ? raw.request_tags.filter((t): t is string => typeof t === 'string') : [];
  if (tags.length > 0) attributes['litellm.request_tags'] = tags.join(',');

  return buildUsageEvent(
    {
      event_id: deterministicEventId(LITELLM_SOURCE, { id }),
      occurred_at,
      identity: {
        email: text(metadata.user_api_key_user_email),
        developer: text(metadata.user_api_key_user_id) ?? text(raw.end_user),
        api_key_id: text(metadata.user_api_key_hash),
        api_key_name: text(metadata.user_api_key_alias),
        project: text(metadata.user_api_key_project_id),
        team_id: teamAlias ?? text(metadata.user_api_key_team_id),
        tool: 'litellm-proxy',
      },
      model,
      tool: 'litellm-proxy',
      session_id: text(raw.session_id) ?? text(metadata.session_id),
      prompt_id: text(raw.trace_id),
      requests: 1,
      input_tokens: prompt === undefined ? undefined : prompt - cached,
      output_tokens,
      cache_read_tokens: cacheRead,
      cache_write_tokens: cacheWrite,
      cost_usd,
      overlap_group: `litellm-request:${id}`,
      attributes,
      paths: {
        occurred_at: 'startTime',
        session_id: 'session_id',
        prompt_id: 'trace_id',
        input_tokens: 'prompt_tokens',
        output_tokens: 'completion_tokens',
        cost_usd: 'response_cost',
        developer_email: 'metadata.user_api_key_user_email',
        developer: 'metadata.user_api_key_user_id',
        api_key_id: 'metadata.user_api_key_hash',
        api_key_name: 'metadata.user_api_key_alias',
        project: 'metadata.user_api_key_project_id',
        team: 'metadata.user_api_key_team_alias',
      },
    },
    { ...ctx, source: LITELLM_SOURCE },
  );
}

function refused(issues: RecordIssue[]): NormalizeResult {
  return { ok: false, issues: issues.map((i) => ({ ...i, message: i.message.length > 400 ? preview(i.message) : i.message })) };
}

function isObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

/** The provider's raw usage block, where LiteLLM keeps the cache detail. */
function usageObject(raw: Record<string, unknown>, metadata: Record<string, unknown>): Record<string, unknown> {
  if (isObject(metadata.usage_object)) return metadata.usage_object;
  const hidden = isObject(raw.hidden_params) ? raw.hidden_params : {};
  return isObject(hidden.usage_object) ? hidden.usage_object : {};
}
