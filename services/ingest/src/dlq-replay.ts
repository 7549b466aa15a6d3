import type { DlqReplayer, ReplayResult } from '@burnrate/api';
import { UsageEvent } from '@burnrate/schemas';
import type { IngestPrincipal } from './auth.ts';
import { HTTP_EVENTS_SOURCE } from './http.ts';
import type { IngestCore } from './ingest-core.ts';
import { LITELLM_SOURCE, normalizeLiteLlm } from './litellm.ts';
import { type NormalizeContext, type NormalizeResult, normalizeRecord } from './normalize.ts';

/**
 * A replay comes from an operator with the API token, not from a sender's key: the DLQ does not
 * keep which key posted the record, so its claims cannot be applied again. Attribution is the
 * config's (members, ownership), as for a source without claims.
 */
const REPLAY_PRINCIPAL: IngestPrincipal = { source: 'dlq-replay', claims: undefined };

/** The receivers whose records are replayed through their own normalisation; any other source's record must be a whole UsageEvent. */
const NORMALIZERS: Readonly<Record<string, (raw: unknown, ctx: NormalizeContext) => NormalizeResult | { ignored: string }>> = {
  [HTTP_EVENTS_SOURCE]: normalizeRecord,
  [LITELLM_SOURCE]: normalizeLiteLlm,
};

/**
 * POST /api/dlq/replay's ingest side: each record normalised as its source's receiver does
 * (/v1/events, /v1/litellm) or, for records of other sources (a conflict or a message a consumer
 * refused, kept as a UsageEvent), checked against usage.events.v1's schema; then published
 * through `publishChecked`, the path every receiver and the handover drain use, so a fixed record
 * is validated, deduplicated by the ledger and stored exactly once: a second replay of the same
 * record is a duplicate. Nothing of a replay goes to the DLQ again: a record still invalid is
 * answered with its problems.
 */
export function createDlqReplayer(ingest: Pick<IngestCore, 'context' | 'publishChecked'>): DlqReplayer {
  return {
    async replay(items) {
      const results: (ReplayResult | undefined)[] = [];
      const events: UsageEvent[] = [];
      const positions: number[] = [];
      items.forEach(({ entry, record }, i) => {
        const normalize = NORMALIZERS[entry.source];
        let outcome: NormalizeResult | { ignored: string };
        if (normalize !== undefined) outcome = normalize(record, ingest.context(entry.source, REPLAY_PRINCIPAL));
        else {
          const parsed = UsageEvent.safeParse(record);
          outcome = parsed.success
            ? { ok: true, event: parsed.data }
            : {
                ok: false,
                issues: parsed.error.issues.map((issue) => ({
                  field: issue.path.join('.') || '(record)',
                  message: `${issue.message} (a record from ${entry.source} is replayed as a whole usage.events.v1 event)`,
                })),
              };
        }
        if ('ignored' in outcome) {
          results.push({ outcome: 'rejected', issues: [{ field: '(record)', message: `no spend to ingest (${outcome.ignored})` }] });
        } else if (outcome.ok) {
          results.push(undefined);
          events.push(outcome.event);
          positions.push(i);
        } else results.push({ outcome: 'rejected', issues: [...outcome.issues] });
      });
      const verdicts = await ingest.publishChecked(events, [], (_event, index, issue) => {
        results[positions[index] as number] = { outcome: 'rejected', issues: [issue] };
      });
      verdicts.forEach((verdict, index) => {
        const at = positions[index] as number;
        if (verdict.kind === 'conflict') return;
        results[at] = { outcome: verdict.kind === 'new' ? 'accepted' : 'duplicate', event_id: (events[index] as UsageEvent).event_id };
      });
      return results.map((r) => r as ReplayResult);
    },
  };
}
