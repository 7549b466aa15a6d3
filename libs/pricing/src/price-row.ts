import type { Tier } from './models.ts';

/** One dated price for one canonical model. Prices are USD per million tokens. */
export interface PriceRow {
  /** Canonical key (see canonicalModel). */
  model: string;
  /** First UTC day the price applies, `YYYY-MM-DD`. */
  effective_from: string;
  /** Uncached input. */
  input: number;
  output: number;
  cache_read: number;
  cache_write_5m: number;
  cache_write_1h: number;
  /** Fraction taken off every token class for batch requests (0.5 = half price). */
  batch_discount: number;
  tier: Tier;
  /** `config` rows come from burnrate.yaml `pricing.prices` and win from their date on. */
  origin: 'builtin' | 'config';
}
