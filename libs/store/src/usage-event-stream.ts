import type { UsageEvent } from '@burnrate/schemas';
import type { Store, UsageEventListQuery } from './port.ts';

/** Events per store read: a page is held in memory while it is replayed. */
const PAGE_SIZE = 10_000;

/**
 * The events of `range` in (occurred_at, event_id) order, one page at a time: what a replay reads
 * (backtest, a backfill, an export), whatever the range holds, without holding it all.
 */
export async function* streamUsageEvents(
  store: Pick<Store, 'listUsageEvents'>,
  range: Omit<UsageEventListQuery, 'limit' | 'after'>,
  pageSize = PAGE_SIZE,
): AsyncGenerator<UsageEvent> {
  let after: UsageEventListQuery['after'];
  for (;;) {
    const page = await store.listUsageEvents({ ...range, limit: pageSize, ...(after !== undefined ? { after } : {}) });
    yield* page;
    const last = page.at(-1);
    // A short page is the last one; the keyset cursor moves strictly forward, so this ends.
    if (last === undefined || page.length < pageSize) return;
    after = { occurred_at: last.occurred_at, event_id: last.event_id };
  }
}
