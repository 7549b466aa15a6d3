import { basename } from 'node:path';
import { deterministicEventId } from './event-id.ts';

/**
 * Claude Code's local JSONL transcripts (`~/.claude/projects/<dir>/<session>.jsonl`), read into
 * the records `POST /v1/events` accepts, for `burnrate import claude-code`.
 *
 * One JSON object per line; only assistant lines with `message.usage` are API calls. The format is
 * Claude Code's internal one and changes between versions, so a line is read leniently: anything
 * without usage is skipped (user turns, summaries, tool results), a line that is not JSON or whose
 * usage holds no numbers is rejected with the reason. Rules as ccusage reads the same files:
 * - the model `<synthetic>` and API error messages are no API call;
 * - cache writes are the `cache_creation` breakdown (5-minute + 1-hour) when present, else
 *   `cache_creation_input_tokens`; the 1-hour part is kept, it is priced higher;
 * - the same message is written once per content block, and a sidechain (a subagent) replays its
 *   parent's messages: one message id is one call, and the copy kept is the main-chain one, then
 *   the one with the most tokens (the last block carries the final output count);
 * - `costUSD` (older versions) is the reported cost; without it the catalog prices the tokens.
 * The files hold no identity: the developer comes from the command line.
 */

export const TRANSCRIPT_SOURCE = 'claude_code_transcript';

/** The developer the transcripts are attributed to (the files carry no user). */
export type TranscriptIdentity = { developer_email: string } | { developer: string };

/** A /v1/events record; its fields are the ones normalize.ts documents. */
export type PostedUsageRecord = Record<string, unknown>;

export type TranscriptLine =
  /** An API call: `key` names the message (repeats of it are one call), `tokens` its total. */
  | { kind: 'usage'; key: string; sidechain: boolean; tokens: number; occurredAt: string; record: PostedUsageRecord }
  /** No usage: not a call, not a problem. */
  | { kind: 'skipped'; reason: string }
  | { kind: 'rejected'; reason: string };

const MAX_ATTRIBUTE_CHARS = 256;

export function readTranscriptLine(line: string, who: TranscriptIdentity): TranscriptLine {
  const text = line.trim();
  if (text === '') return { kind: 'skipped', reason: 'empty line' };
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return { kind: 'rejected', reason: 'a line that is not JSON' };
  }
  if (!isObject(value)) return { kind: 'rejected', reason: 'a line that is not a JSON object' };
  const message = value.message;
  if (!isObject(message) || !isObject(message.usage)) return { kind: 'skipped', reason: 'no usage (not an API call)' };
  if (value.isApiErrorMessage === true) return { kind: 'skipped', reason: 'an API error message' };
  const model = message.model;
  if (model === '<synthetic>') return { kind: 'skipped', reason: 'a synthetic message (no API call)' };
  if (typeof model !== 'string' || model === '') return { kind: 'rejected', reason: 'usage without a model' };
  const timestamp = value.timestamp;
  if (typeof timestamp !== 'string' || Number.isNaN(Date.parse(timestamp))) {
    return { kind: 'rejected', reason: 'usage without a valid timestamp' };
  }

  const usage = message.usage;
  const counts = {
    input: count(usage.input_tokens),
    output: count(usage.output_tokens),
    cacheRead: count(usage.cache_read_input_tokens),
    cacheWrite: count(usage.cache_creation_input_tokens),
    write5m: isObject(usage.cache_creation) ? count(usage.cache_creation.ephemeral_5m_input_tokens) : undefined,
    write1h: isObject(usage.cache_creation) ? count(usage.cache_creation.ephemeral_1h_input_tokens) : undefined,
  };
  if (Object.values(counts).includes(null)) return { kind: 'rejected', reason: 'usage token counts that are not whole numbers' };
  if (counts.input === undefined && counts.output === undefined) {
    return { kind: 'rejected', reason: 'usage without input_tokens or output_tokens' };
  }
  const breakdown = counts.write5m !== undefined || counts.write1h !== undefined;
  const cacheWrite = breakdown ? (counts.write5m ?? 0) + (counts.write1h ?? 0) : counts.cacheWrite;

  const requestId = nonEmpty(value.requestId);
  const messageId = nonEmpty(message.id);
  const uuid = nonEmpty(value.uuid);
  // The message id names the call whichever copy of it is kept (a sidechain's replay has its own requestId).
  const nativeKey = messageId ? `message_id=${messageId}` : requestId ? `request_id=${requestId}` : uuid ? `uuid=${uuid}` : text;
  const cost = value.costUSD;
  const cwd = nonEmpty(value.cwd);
  const attributes: Record<string, string> = {};
  if (requestId) attributes.request_id = clip(requestId);
  if (cwd) attributes['project.dir'] = clip(basename(cwd));
  const branch = nonEmpty(value.gitBranch);
  if (branch) attributes['git.branch'] = clip(branch);
  const version = nonEmpty(value.version);
  if (version) attributes['app.version'] = clip(version);
  if (value.isSidechain === true) attributes.query_source = 'subagent';

  const record: PostedUsageRecord = {
    event_id: deterministicEventId(TRANSCRIPT_SOURCE, nativeKey),
    occurred_at: timestamp,
    ...who,
    model,
    provider: 'anthropic',
    tool: 'claude-code',
    ...(nonEmpty(value.sessionId) ? { session_id: value.sessionId } : {}),
    ...(counts.input !== undefined ? { input_tokens: counts.input } : {}),
    ...(counts.output !== undefined ? { output_tokens: counts.output } : {}),
    ...(counts.cacheRead !== undefined ? { cache_read_tokens: counts.cacheRead } : {}),
    ...(cacheWrite !== undefined ? { cache_write_tokens: cacheWrite } : {}),
    ...(typeof counts.write1h === 'number' && counts.write1h > 0 ? { cache_write_1h_tokens: counts.write1h } : {}),
    ...(typeof cost === 'number' && Number.isFinite(cost) && cost >= 0 ? { cost_usd: cost } : {}),
    ...(nonEmpty(usage.speed) ? { speed: usage.speed } : {}),
    ...(nonEmpty(usage.service_tier) ? { service_tier: usage.service_tier } : {}),
    // The id Claude Code's OTLP api_request events carry too: the same call from both sources.
    ...(requestId ? { overlap_group: `anthropic-request:${requestId}` } : {}),
    ...(Object.keys(attributes).length > 0 ? { attributes } : {}),
  };
  const tokens = (counts.input ?? 0) + (counts.output ?? 0) + (counts.cacheRead ?? 0) + (cacheWrite ?? 0);
  return {
    kind: 'usage',
    key: messageId ? `message:${messageId}` : `native:${nativeKey}`,
    sidechain: value.isSidechain === true,
    tokens,
    occurredAt: timestamp,
    record,
  };
}

type Usage = Extract<TranscriptLine, { kind: 'usage' }>;

/** One call per message across every file read: the main-chain copy, then the one with most tokens. */
export function createTranscriptDeduper(): {
  /** Keeps the line; false when it repeats a message already held (it may still replace it). */
  add(line: Usage): boolean;
  /** The calls kept, oldest first. */
  records(): PostedUsageRecord[];
  readonly size: number;
} {
  const kept = new Map<string, Usage>();
  return {
    add(line) {
      const held = kept.get(line.key);
      if (held === undefined) {
        kept.set(line.key, line);
        return true;
      }
      const better = held.sidechain !== line.sidechain ? held.sidechain : line.tokens > held.tokens;
      if (better) kept.set(line.key, line);
      return false;
    },
    records: () =>
      [...kept.values()]
        .map((line) => ({ at: Date.parse(line.occurredAt), record: line.record }))
        .sort((a, b) => a.at - b.at)
        .map((line) => line.record),
    get size() {
      return kept.size;
    },
  };
}

function isObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

function nonEmpty(value: unknown): string | undefined {
  return typeof value === 'string' && value !== '' ? value : undefined;
}

/** A token count: undefined when absent, null when present but not a whole non-negative number. */
function count(value: unknown): number | undefined | null {
  if (value === undefined || value === null) return undefined;
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0 ? value : null;
}

function clip(text: string): string {
  return text.length <= MAX_ATTRIBUTE_CHARS ? text : text.slice(0, MAX_ATTRIBUTE_CHARS);
}
