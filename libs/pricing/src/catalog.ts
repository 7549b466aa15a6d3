import { BurnrateError, type PriceRowConfig } from '@burnrate/core';
import { BUILTIN_PRICES } from './builtin-prices.ts';
import { canonicalModel, type Tier } from './models.ts';
import type { PriceRow } from './price-row.ts';

export interface CostInput {
  /** Raw model name as the source reported it. */
  model: string;
  /** When the usage happened; selects the dated row. */
  at: Date;
  /** Uncached input only: cache reads and writes are counted separately. */
  input_tokens: number;
  output_tokens: number;
  cache_read_tokens: number;
  /** All cache writes, whatever their TTL. */
  cache_write_tokens: number;
  /** The part of cache_write_tokens written with the 1-hour TTL; the rest is priced as 5-minute writes. */
  cache_write_1h_tokens?: number;
  is_batch: boolean;
}

export interface ModelInfo {
  /** Canonical key. */
  model: string;
  model_family: string;
  provider: string;
  tier: Tier;
}

export type CostResult = (ModelInfo & { ok: true; cost_usd: number; price: PriceRow }) | (ModelInfo & { ok: false; reason: string });

export interface PriceCatalog {
  /** The row in effect for `model` (raw or canonical) at `at`, or undefined when there is none. */
  priceFor(model: string, at: Date): PriceRow | undefined;
  /** Family, vendor and tier of a model at a date; the tier of the row in effect wins over the name's. */
  describe(model: string, at: Date): ModelInfo;
  /** Cost of some usage at list price (minus the batch discount), or why it cannot be computed. */
  costOf(input: CostInput): CostResult;
  /** Every row, builtin then config, for listing and `burnrate config check`. */
  rows(): readonly PriceRow[];
}

const DAY = /^\d{4}-\d{2}-\d{2}$/;

function dayStart(day: string): number {
  return Date.parse(`${day}T00:00:00Z`);
}

function byDate(a: PriceRow, b: PriceRow): number {
  return dayStart(a.effective_from) - dayStart(b.effective_from);
}

function indexRows(rows: readonly PriceRow[]): Map<string, PriceRow[]> {
  const index = new Map<string, PriceRow[]>();
  for (const row of rows) {
    const list = index.get(row.model) ?? [];
    list.push(row);
    index.set(row.model, list);
  }
  // Stable sort: of two rows with the same date, the later one in the file wins.
  for (const list of index.values()) list.sort(byDate);
  return index;
}

function rowAt(list: readonly PriceRow[] | undefined, at: number): PriceRow | undefined {
  if (!list) return undefined;
  let found: PriceRow | undefined;
  for (const row of list) {
    if (dayStart(row.effective_from) <= at) found = row;
    else break;
  }
  return found;
}

/**
 * A config row may give only input and output. The missing prices keep the ratios of the row it
 * replaces (so a new Sonnet input price moves its cache prices with it); for a model the catalog
 * has never priced, Anthropic's cache multipliers apply to Claude models and no cache discount to
 * anything else, and batch is 50% off.
 */
function completeOverride(row: PriceRowConfig, builtin: Map<string, PriceRow[]>): PriceRow {
  const canonical = canonicalModel(row.model);
  const list = builtin.get(canonical.key);
  const base = rowAt(list, dayStart(row.effective_from)) ?? list?.[0];
  const ratio = (field: 'cache_read' | 'cache_write_5m' | 'cache_write_1h', anthropicMultiplier: number): number => {
    if (base && base.input > 0) return (row.input * base[field]) / base.input;
    return canonical.provider === 'anthropic' ? row.input * anthropicMultiplier : row.input;
  };
  return {
    model: canonical.key,
    effective_from: row.effective_from,
    input: row.input,
    output: row.output,
    cache_read: row.cache_read ?? ratio('cache_read', 0.1),
    cache_write_5m: row.cache_write_5m ?? ratio('cache_write_5m', 1.25),
    cache_write_1h: row.cache_write_1h ?? ratio('cache_write_1h', 2),
    batch_discount: row.batch_discount ?? base?.batch_discount ?? 0.5,
    tier: row.tier ?? base?.tier ?? canonical.tier,
    origin: 'config',
  };
}

const TOKEN_FIELDS = ['input_tokens', 'output_tokens', 'cache_read_tokens', 'cache_write_tokens', 'cache_write_1h_tokens'] as const;

/**
 * Builds the catalog from the bundled rows plus `config.pricing.prices`. Config rows win from
 * their effective date on, even over a bundled row with a later date: once a FinOps practitioner
 * has pinned a price (a negotiated discount), a catalog update must not silently undo it.
 */
export function createPriceCatalog(overrides: readonly PriceRowConfig[] = []): PriceCatalog {
  for (const [i, row] of overrides.entries()) {
    if (!DAY.test(row.effective_from) || Number.isNaN(dayStart(row.effective_from))) {
      throw new BurnrateError(
        'CONFIG_INVALID',
        `pricing.prices[${i}].effective_from: expected a date such as 2026-09-01, got "${row.effective_from}"`,
      );
    }
  }
  const builtin = indexRows(BUILTIN_PRICES);
  const configRows = overrides.map((row) => completeOverride(row, builtin));
  const configured = indexRows(configRows);

  const priceFor = (model: string, at: Date): PriceRow | undefined => {
    const t = at.getTime();
    if (Number.isNaN(t)) return undefined;
    const key = canonicalModel(model).key;
    return rowAt(configured.get(key), t) ?? rowAt(builtin.get(key), t);
  };

  const describe = (model: string, at: Date): ModelInfo => {
    const canonical = canonicalModel(model);
    const row = priceFor(model, at);
    return {
      model: canonical.key,
      model_family: canonical.family,
      provider: canonical.provider,
      tier: row && row.tier !== 'unknown' ? row.tier : canonical.tier,
    };
  };

  const costOf = (input: CostInput): CostResult => {
    const info = describe(input.model, input.at);
    for (const field of TOKEN_FIELDS) {
      const n = input[field];
      if (n !== undefined && !(Number.isFinite(n) && n >= 0)) {
        return { ...info, ok: false, reason: `${field} must be a non-negative number, got ${String(n)}` };
      }
    }
    const writes1h = input.cache_write_1h_tokens ?? 0;
    if (writes1h > input.cache_write_tokens) {
      return {
        ...info,
        ok: false,
        reason: `cache_write_1h_tokens (${writes1h}) cannot exceed cache_write_tokens (${input.cache_write_tokens})`,
      };
    }
    const price = priceFor(input.model, input.at);
    if (!price) {
      const known = builtin.has(info.model) || configured.has(info.model);
      const reason = known
        ? `no price for model "${input.model}" (canonical "${info.model}") on ${input.at.toISOString().slice(0, 10)}: its first price row starts later`
        : `no price for model "${input.model}" (canonical "${info.model}"); add a row to pricing.prices in burnrate.yaml or send cost_usd`;
      return { ...info, ok: false, reason };
    }
    const perMillion =
      input.input_tokens * price.input +
      input.output_tokens * price.output +
      input.cache_read_tokens * price.cache_read +
      (input.cache_write_tokens - writes1h) * price.cache_write_5m +
      writes1h * price.cache_write_1h;
    const discount = input.is_batch ? 1 - price.batch_discount : 1;
    // Rounded to 1e-10 USD so that float noise does not show up as a cost difference when a
    // computed cost is compared with a reported one.
    const cost_usd = Math.round((perMillion / 1e6) * discount * 1e10) / 1e10;
    return { ...info, ok: true, cost_usd, price };
  };

  return {
    priceFor,
    describe,
    costOf,
    rows: () => [...BUILTIN_PRICES, ...configRows],
  };
}
