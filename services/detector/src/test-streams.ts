import type { ConsumedMessage } from '@burnrate/bus';
import { parseConfig } from '@burnrate/core';
import { usageEventKey, type UsageEvent } from '@burnrate/schemas';
import { usageEvent } from '@burnrate/testing';

/** Team scope fixtures for this package's tests (only tests import this file). */

export const teamConfig = parseConfig(`
org: acme
teams:
  - id: payments
    timezone: Europe/Berlin
    members: [alice@acme.com, bob@acme.com, carol@acme.com]
    budget: { monthly_usd: 3000 }
`);

const SONNET = { model: 'claude-sonnet-4-5', model_family: 'claude-sonnet', tier: 'standard' as const };
const HAIKU = { model: 'claude-haiku-4-5', model_family: 'claude-haiku', tier: 'economy' as const };
const OPUS = { model: 'claude-opus-4-5', model_family: 'claude-opus', tier: 'premium' as const };

/**
 * Six weeks of one team's working hours in Berlin, two calls an hour per developer, and in the
 * last two weeks one team incident per team detector: bob's tool switches from haiku to opus
 * (model mix), carol's cache reads stop (cache efficiency), alice's spend spikes one afternoon
 * (spend spike), and the month heads over the team's $3,000 budget (budget forecast).
 * Ordered by occurred_at.
 */
export function teamStream(): UsageEvent[] {
  const start = Date.parse('2026-10-05T00:00:00Z'); // a Monday
  const out: UsageEvent[] = [];
  let n = 0;
  for (let d = 0; d < 42; d++) {
    if (d % 7 >= 5) continue;
    for (let h = 7; h < 16; h++) {
      for (const minute of [5, 35]) {
        const occurred_at = new Date(start + d * 86_400_000 + h * 3_600_000 + minute * 60_000).toISOString();
        const at = { occurred_at, ingested_at: occurred_at };
        const wobble = ((d * 7 + h * 3) % 5) / 10;
        const spiked = d === 36 && h >= 12 && h < 15 ? 12 : 1;
        out.push(usageEvent({ ...at, event_id: `a-${n}`, session_id: `a-${d}`, ...SONNET, cost_usd: (4 + wobble) * spiked }));
        out.push(
          usageEvent({
            ...at,
            event_id: `b-${n}`,
            developer: 'bob@acme.com',
            developer_email: 'bob@acme.com',
            session_id: `b-${d}`,
            ...(d >= 28 ? OPUS : HAIKU),
            cost_usd: d >= 28 ? 5 + wobble : 0.6 + wobble / 10,
          }),
        );
        const broken = d >= 30;
        out.push(
          usageEvent({
            ...at,
            event_id: `c-${n}`,
            developer: 'carol@acme.com',
            developer_email: 'carol@acme.com',
            session_id: `c-${d}`,
            ...SONNET,
            input_tokens: broken ? 400_000 : 20_000,
            cache_read_tokens: broken ? 0 : 380_000,
            cache_write_tokens: 0,
            cost_usd: broken ? 6 + wobble : 1.2 + wobble / 5,
          }),
        );
        n += 1;
      }
    }
  }
  return out;
}

/** The events as consumed messages of one partition, offsets from `firstOffset`. */
export function eventMessages(events: readonly UsageEvent[], partition = 0, firstOffset = 0): ConsumedMessage[] {
  return events.map((e, i) => ({
    topic: 'usage.events.v1',
    partition,
    offset: String(firstOffset + i),
    key: usageEventKey(e),
    value: JSON.stringify(e),
    headers: {},
    timestamp: Date.parse(e.occurred_at),
  }));
}

/** Splits events into batches of the same `occurred_at`, as a consumer that keeps up would get them. */
export function batchesByTime<T extends { value: string }>(messages: readonly T[], occurredAt: (m: T) => string): T[][] {
  const out: T[][] = [];
  for (const m of messages) {
    const last = out.at(-1);
    if (last !== undefined && occurredAt(last[0] as T) === occurredAt(m)) last.push(m);
    else out.push([m]);
  }
  return out;
}
