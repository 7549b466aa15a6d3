import type { OutgoingMessage } from '@burnrate/bus';
import type { Logger } from '@burnrate/core';
import { BackfillWindow, type UsageEvent } from '@burnrate/schemas';

/** The late events of one org in the batch in progress. */
interface LateSpan {
  from: string;
  to: string;
  events: number;
  last: { event_id: string; occurred_at: string };
}

/**
 * The late events of a stage-A partition's batch, per org: what live detection did not judge,
 * handed to the backfill runner on usage.backfill.v1 at the end of the batch. Only late events
 * reach it, never the live path, so it may allocate.
 */
export class LateSpans {
  private readonly byOrg = new Map<string, LateSpan>();

  note(event: UsageEvent): void {
    const last = { event_id: event.event_id, occurred_at: event.occurred_at };
    const span = this.byOrg.get(event.org);
    if (span === undefined) {
      this.byOrg.set(event.org, { from: event.occurred_at, to: event.occurred_at, events: 1, last });
      return;
    }
    // Instants are normalised ISO text in UTC, so they compare as strings.
    if (event.occurred_at < span.from) span.from = event.occurred_at;
    if (event.occurred_at > span.to) span.to = event.occurred_at;
    span.events += 1;
    span.last = last;
  }

  /** The batch's spans as usage.backfill.v1 messages (key org), and forgets them. */
  take(source: string, watermark: string, log: Logger): OutgoingMessage[] {
    const messages: OutgoingMessage[] = [];
    for (const [org, span] of this.byOrg) {
      const checked = BackfillWindow.safeParse({
        org,
        from: span.from,
        to: span.to,
        events: span.events,
        source,
        last_event: span.last,
        watermark,
      });
      if (checked.success) messages.push({ key: org, value: JSON.stringify(checked.data) });
      else
        log.error({ org, source, issues: checked.error.issues.slice(0, 5) }, 'detector produced an invalid backfill window; not published');
    }
    this.byOrg.clear();
    return messages;
  }
}
