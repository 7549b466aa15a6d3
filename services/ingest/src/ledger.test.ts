import { createMemoryStore } from '@burnrate/store';
import { usageEvent } from '@burnrate/testing/builders';
import { settled } from '@burnrate/testing/wait-until';
import { describe, expect, it } from 'vitest';
import { createEventLedger, type EventLedger, type LedgerEntry, warmLedger } from './ledger.ts';

const HOUR = 3_600_000;
const T0 = Date.parse('2026-11-28T10:00:00Z');

function clock(start = T0): { now: () => number; advance(ms: number): void } {
  let t = start;
  return { now: () => t, advance: (ms) => void (t += ms) };
}

const entry = (id: string, fingerprint = `fp-${id}`): LedgerEntry => ({ event_id: id, fingerprint });

/** Reserve then settle as published: what a request whose publish succeeded does. */
async function accept(ledger: EventLedger, entries: LedgerEntry[]): Promise<string[]> {
  const verdicts = await ledger.reserve(entries);
  ledger.settle(entries, verdicts, true);
  return verdicts.map((v) => v.kind);
}

describe('event ledger', () => {
  it('tells new ids, resends and reused ids with other content apart', async () => {
    const ledger = createEventLedger({ windowMs: 48 * HOUR, now: clock().now });
    expect(await accept(ledger, [entry('a'), entry('b')])).toEqual(['new', 'new']);
    expect(await accept(ledger, [entry('a'), entry('c'), entry('b', 'other content')])).toEqual(['duplicate', 'new', 'conflict']);
    // The first content stays: the same conflicting record again is still a conflict, the original a duplicate.
    expect(await accept(ledger, [entry('b', 'other content'), entry('b')])).toEqual(['conflict', 'duplicate']);
    expect(ledger.stats()).toMatchObject({ entries: 3, duplicates: 2, conflicts: 2 });
  });

  it('judges a repeated id within one request against its first occurrence', async () => {
    const ledger = createEventLedger({ windowMs: HOUR, now: clock().now });
    expect(await accept(ledger, [entry('a'), entry('a'), entry('a', 'changed')])).toEqual(['new', 'duplicate', 'conflict']);
  });

  it('forgets the ids of a publish that failed, so the retry is new', async () => {
    const ledger = createEventLedger({ windowMs: HOUR, now: clock().now });
    const entries = [entry('a'), entry('b')];
    ledger.settle(entries, await ledger.reserve(entries), false);
    expect(await accept(ledger, entries)).toEqual(['new', 'new']);
  });

  it('holds a concurrent resend until the first publish is settled, then judges it', async () => {
    const ledger = createEventLedger({ windowMs: HOUR, now: clock().now });
    const first = [entry('a')];
    const firstVerdicts = await ledger.reserve(first);

    let resolved = false;
    const second = ledger.reserve([entry('a')]).then((v) => {
      resolved = true;
      return v.map((x) => x.kind);
    });
    // The ledger is in memory: once it has settled, a verdict would already be there. Answering
    // "duplicate" now could acknowledge an event whose publish then fails.
    await settled();
    expect(resolved).toBe(false);
    ledger.settle(first, firstVerdicts, true);
    expect(await second).toEqual(['duplicate']);

    // And when the first publish fails, the waiting request owns the id.
    const third = [entry('b')];
    const thirdVerdicts = await ledger.reserve(third);
    const fourth = ledger.reserve([entry('b')]);
    ledger.settle(third, thirdVerdicts, false);
    expect((await fourth).map((v) => v.kind)).toEqual(['new']);
  });

  it('remembers ids for the window and no longer', async () => {
    const c = clock();
    const ledger = createEventLedger({ windowMs: 24 * HOUR, now: c.now });
    await accept(ledger, [entry('a')]);
    c.advance(24 * HOUR - 1000);
    expect(await accept(ledger, [entry('a', 'other')])).toEqual(['conflict']);
    c.advance(2000);
    // Past the window the id is free again (the store keeps one row per id regardless).
    expect(await accept(ledger, [entry('a', 'other')])).toEqual(['new']);
    expect(await accept(ledger, [entry('a', 'other')])).toEqual(['duplicate']);
  });

  it('treats an id stored before fingerprints existed as a resend', async () => {
    const ledger = createEventLedger({ windowMs: HOUR, now: clock().now });
    ledger.remember({ event_id: 'old', fingerprint: '' }, T0 - 1000);
    expect(await accept(ledger, [entry('old', 'anything')])).toEqual(['duplicate']);
  });

  it('grows past its first table and drops expired ids when it rebuilds, at about 32 bytes an id', async () => {
    const c = clock();
    const ledger = createEventLedger({ windowMs: HOUR, now: c.now, initialCapacity: 16 });
    const ids = Array.from({ length: 100_000 }, (_, i) => entry(`id-${i}`));
    expect((await accept(ledger, ids)).every((k) => k === 'new')).toBe(true);
    expect(await accept(ledger, [entry('id-0'), entry('id-99999'), entry('id-500', 'x')])).toEqual(['duplicate', 'duplicate', 'conflict']);
    const { entries, bytes } = ledger.stats();
    expect(entries).toBe(100_000);
    expect(bytes / entries).toBeLessThanOrEqual(48);

    // An hour later the same number of new ids fits in the same table: the old ones expired.
    c.advance(HOUR + 1000);
    await accept(
      ledger,
      Array.from({ length: 100_000 }, (_, i) => entry(`later-${i}`)),
    );
    expect(ledger.stats().bytes).toBe(bytes);
  });

  it('is rebuilt from the store, a page at a time, keeping only the window', async () => {
    const store = createMemoryStore();
    const now = Date.parse('2026-11-28T12:00:00Z');
    const events = Array.from({ length: 2501 }, (_, i) =>
      usageEvent({
        event_id: `e-${String(i).padStart(6, '0')}`,
        fingerprint: `f-${i}`,
        // The last one was accepted before the window.
        ingested_at: new Date(i === 2500 ? now - 50 * HOUR : now - HOUR).toISOString(),
      }),
    );
    await store.insertUsageEvents(events);
    const ledger = createEventLedger({ windowMs: 48 * HOUR, now: () => now });
    expect(await warmLedger(ledger, store, { org: 'acme', windowMs: 48 * HOUR, now, pageSize: 1000 })).toBe(2500);
    expect(await accept(ledger, [entry('e-000000', 'f-0'), entry('e-002499', 'changed'), entry('e-002500', 'f-2500')])).toEqual([
      'duplicate',
      'conflict',
      'new',
    ]);
  });
});
