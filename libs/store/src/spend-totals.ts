import type { SpendTotals } from './port.ts';
import { roundToMicroUsd } from './tables/reconciliation.ts';

/** Totals of nothing: the start of every sum of spend. */
export const zeroTotals = (): SpendTotals => ({
  cost_usd: 0,
  events: 0,
  requests: 0,
  input_tokens: 0,
  output_tokens: 0,
  cache_read_tokens: 0,
  cache_write_tokens: 0,
});

/** The rows' totals added up, the dollars to a millionth (a sum of float costs otherwise reads 12.340000000000002). */
export function sumTotals(rows: readonly SpendTotals[]): SpendTotals {
  const t = zeroTotals();
  for (const r of rows) {
    t.cost_usd += r.cost_usd;
    t.events += r.events;
    t.requests += r.requests;
    t.input_tokens += r.input_tokens;
    t.output_tokens += r.output_tokens;
    t.cache_read_tokens += r.cache_read_tokens;
    t.cache_write_tokens += r.cache_write_tokens;
  }
  t.cost_usd = roundToMicroUsd(t.cost_usd);
  return t;
}
