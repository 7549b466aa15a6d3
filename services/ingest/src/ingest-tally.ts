import { countDlq, type DlqCount, type DlqRecord } from '@burnrate/schemas';

/** What became of a record ingest was given. */
export type IngestOutcome =
  /** New, and published to usage.events.v1. */
  | 'accepted'
  /** A resend of an event already accepted: counted once, not published again. */
  | 'duplicate'
  /** Invalid: dead-lettered with its reasons. */
  | 'rejected'
  /** An event_id already accepted with other content: dead-lettered, never applied. */
  | 'conflict';

export interface IngestCount {
  source: string;
  outcome: IngestOutcome;
  count: number;
}

/**
 * Totals of what every receiver, poller and replay did with records since start, by source. One
 * tally is shared by all of a process's ingest cores, as the gate and the ledger are, and
 * /metrics reads it.
 */
export interface IngestTally {
  events(source: string, outcome: IngestOutcome, count: number): void;
  deadLetter(record: DlqRecord, reason: 'invalid_record' | 'conflict'): void;
  counts(): { events: IngestCount[]; deadLetters: DlqCount[] };
}

export function createIngestTally(): IngestTally {
  const events = new Map<string, IngestCount>();
  const deadLetters = new Map<string, DlqCount>();
  return {
    events(source, outcome, count) {
      if (count === 0) return;
      const key = `${source}\n${outcome}`;
      const entry = events.get(key) ?? { source, outcome, count: 0 };
      entry.count += count;
      events.set(key, entry);
    },
    deadLetter: (record, reason) => countDlq(deadLetters, record, reason),
    counts: () => ({ events: [...events.values()].map((e) => ({ ...e })), deadLetters: [...deadLetters.values()].map((e) => ({ ...e })) }),
  };
}
