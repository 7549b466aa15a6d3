import { describe, expect, it } from 'vitest';
import type { UsageEvent } from '@burnrate/schemas';
import { usageEvent } from '../test-support/fixtures.ts';
import { createMemoryStore } from './memory-store.ts';
import { streamUsageEvents } from './usage-event-stream.ts';

const at = (iso: string, id: string, extra: Partial<UsageEvent> = {}): UsageEvent =>
  usageEvent({ event_id: id, occurred_at: iso, ingested_at: iso, ...extra });

describe('streamUsageEvents', () => {
  it('pages through the store with the keyset cursor, in order, within the range', async () => {
    const store = createMemoryStore();
    const events = Array.from({ length: 25 }, (_, i) =>
      // Pairs share an instant so pages split between equal occurred_at values.
      at(new Date(Date.UTC(2026, 10, 2, 0, Math.floor(i / 2))).toISOString(), `e${String(i).padStart(2, '0')}`),
    );
    await store.insertUsageEvents([...events].reverse());
    await store.insertUsageEvents([at('2026-11-02T00:00:00.000Z', 'other-org', { org: 'globex' })]);
    const seen: string[] = [];
    for await (const e of streamUsageEvents(store, { org: 'acme', to: '2026-11-02T00:12:00.000Z' }, 4)) seen.push(e.event_id);
    expect(seen).toEqual(events.slice(0, 24).map((e) => e.event_id));
    await store.close();
  });

  it('ends on an empty store', async () => {
    const store = createMemoryStore();
    const seen: UsageEvent[] = [];
    for await (const e of streamUsageEvents(store, { org: 'acme' })) seen.push(e);
    expect(seen).toEqual([]);
  });
});
