import type { PriceRow } from './price-row.ts';

/**
 * Rows whose price has not changed since the model launched start here, so a backfill of old
 * events still prices them. A later change is a new row with its own date, never an edit.
 */
const CATALOG_EPOCH = '2023-01-01';

type Seed = Omit<PriceRow, 'origin' | 'effective_from'> & { effective_from?: string };

// Anthropic list prices (USD per million tokens) from platform.claude.com pricing, mirror of
// 2026-08-21, cross-checked with pydantic/genai-prices. Cache multipliers are fixed by Anthropic:
// read 0.1x input, 5-minute write 1.25x, 1-hour write 2x. Batch is 50% off and stacks with them.
// Not modelled: fast mode (Opus 5 / 4.8 at $10/$50), inference_geo "us" (1.1x), web search.
function anthropic(models: readonly string[], input: number, output: number, tier: PriceRow['tier']): Seed[] {
  return models.map((model) => ({
    model,
    input,
    output,
    cache_read: round(input * 0.1),
    cache_write_5m: round(input * 1.25),
    cache_write_1h: round(input * 2),
    batch_discount: 0.5,
    tier,
  }));
}

// OpenAI list prices from pydantic/genai-prices openai.yml (2026-08-21, citing
// developers.openai.com/api/docs/pricing). OpenAI does not charge a premium for cache writes, so
// writes cost the uncached input price; models with no cached-input price ("—") get none either.
// Batch and Flex are 50% of Standard. Not modelled: gpt-5.4 above 272k context (5 / 0.50 / 22.50)
// and the Priority tier.
function openai(
  model: string,
  input: number,
  cached: number | undefined,
  output: number,
  tier: PriceRow['tier'],
  effective_from?: string,
): Seed {
  return {
    model,
    input,
    output,
    cache_read: cached ?? input,
    cache_write_5m: input,
    cache_write_1h: input,
    batch_discount: 0.5,
    tier,
    ...(effective_from ? { effective_from } : {}),
  };
}

function round(usd: number): number {
  return Math.round(usd * 1e6) / 1e6;
}

const SEEDS: Seed[] = [
  ...anthropic(['claude-opus-5', 'claude-opus-4-8', 'claude-opus-4-7', 'claude-opus-4-6', 'claude-opus-4-5'], 5, 25, 'premium'),
  // Limited availability.
  ...anthropic(['claude-fable-5', 'claude-mythos-5'], 10, 50, 'premium'),
  // Sources conflict: Anthropic's docs say $2/$10 is now the standard Sonnet 5 price with no
  // increase, while genai-prices encodes a rise to $3/$15 on 2026-09-01. We follow the vendor's
  // docs; if the rise happens, add a dated row (or a pricing.prices row in burnrate.yaml).
  ...anthropic(['claude-sonnet-5'], 2, 10, 'standard'),
  ...anthropic(['claude-sonnet-4-6', 'claude-sonnet-4-5'], 3, 15, 'standard'),
  ...anthropic(['claude-haiku-4-5'], 1, 5, 'economy'),
  // Retired except on some clouds.
  ...anthropic(['claude-opus-4-1', 'claude-opus-4'], 15, 75, 'premium'),

  openai('gpt-5.5', 5, 0.5, 30, 'premium'),
  openai('gpt-5.5-pro', 30, undefined, 180, 'premium'),
  openai('gpt-5.4', 2.5, 0.25, 15, 'standard'),
  openai('gpt-5.4-mini', 0.75, 0.075, 4.5, 'economy'),
  openai('gpt-5.4-nano', 0.2, 0.02, 1.25, 'economy'),
  openai('gpt-5.3-codex', 1.75, 0.175, 14, 'standard'),
  openai('gpt-5', 1.25, 0.125, 10, 'standard'),
  openai('gpt-5-mini', 0.25, 0.025, 2, 'economy'),
  openai('gpt-5-nano', 0.05, 0.005, 0.4, 'economy'),
  openai('gpt-4.1', 2, 0.5, 8, 'standard'),
  openai('gpt-4.1-mini', 0.4, 0.1, 1.6, 'economy'),
  openai('gpt-4.1-nano', 0.1, 0.025, 0.4, 'economy'),
  // o3 launched at $10 / $2.50 / $40 and was cut by 80% on 2025-06-10. Its tier stays
  // `standard` across the cut so the price change alone does not look like model-mix drift.
  openai('o3', 10, 2.5, 40, 'standard', '2025-04-16'),
  openai('o3', 2, 0.5, 8, 'standard', '2025-06-10'),
  openai('o3-pro', 20, undefined, 80, 'premium'),
  openai('o4-mini', 1.1, 0.275, 4.4, 'economy'),
];

export const BUILTIN_PRICES: readonly PriceRow[] = SEEDS.map((s) => ({
  ...s,
  effective_from: s.effective_from ?? CATALOG_EPOCH,
  origin: 'builtin',
}));
