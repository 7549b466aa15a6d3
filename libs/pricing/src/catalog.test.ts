import { describe, expect, it } from 'vitest';
import { createPriceCatalog } from './catalog.ts';

const at = new Date('2026-11-28T21:39:26.552Z');

// The tokens Claude Code reported in services/ingest/fixtures/claude-code-otlp/logs.json.
const fixtureUsage = {
  model: 'claude-sonnet-4-5',
  at,
  input_tokens: 1200,
  output_tokens: 40,
  cache_read_tokens: 20_000,
  cache_write_tokens: 5000,
  is_batch: false,
};

describe('costOf', () => {
  it('prices the Claude Code fixture exactly as Claude Code did (0.0036 + 0.0006 + 0.006 + 0.01875)', () => {
    const result = createPriceCatalog().costOf(fixtureUsage);
    expect(result).toMatchObject({ ok: true, cost_usd: 0.02895, model_family: 'claude-sonnet', tier: 'standard', provider: 'anthropic' });
  });

  it('prices a dated snapshot name like its alias', () => {
    const result = createPriceCatalog().costOf({ ...fixtureUsage, model: 'claude-sonnet-4-5-20250929' });
    expect(result.ok && result.cost_usd).toBe(0.02895);
  });

  it('prices 1-hour cache writes at 2x input and the rest at 1.25x', () => {
    const result = createPriceCatalog().costOf({ ...fixtureUsage, cache_write_1h_tokens: 1000 });
    // 0.0036 + 0.0006 + 0.006 + (4000 x 3.75 + 1000 x 6) / 1e6 = 0.0312, instead of 0.01875 for the writes
    expect(result.ok && result.cost_usd).toBe(0.0312);
  });

  it('takes the batch discount off every token class', () => {
    const result = createPriceCatalog().costOf({ ...fixtureUsage, is_batch: true });
    expect(result.ok && result.cost_usd).toBe(0.014475);
  });

  it('prices OpenAI cached input at the cached price', () => {
    const result = createPriceCatalog().costOf({
      model: 'gpt-5.4-mini-2026-03-01',
      at,
      input_tokens: 1_000_000,
      output_tokens: 1_000_000,
      cache_read_tokens: 1_000_000,
      cache_write_tokens: 0,
      is_batch: false,
    });
    expect(result).toMatchObject({ ok: true, cost_usd: 5.325, model_family: 'gpt-5', tier: 'economy' });
  });

  it('explains an unknown model instead of guessing', () => {
    const result = createPriceCatalog().costOf({ ...fixtureUsage, model: 'anthropic/claude-3-5-haiku' });
    expect(result.ok).toBe(false);
    expect(!result.ok && result.reason).toBe(
      'no price for model "anthropic/claude-3-5-haiku" (canonical "claude-haiku-3-5"); add a row to pricing.prices in burnrate.yaml or send cost_usd',
    );
    expect(result).toMatchObject({ model_family: 'claude-haiku', tier: 'economy', provider: 'anthropic' });
  });

  it('rejects impossible token counts with the field name', () => {
    const catalog = createPriceCatalog();
    const negative = catalog.costOf({ ...fixtureUsage, output_tokens: -1 });
    expect(!negative.ok && negative.reason).toBe('output_tokens must be a non-negative number, got -1');
    const tooMany1h = catalog.costOf({ ...fixtureUsage, cache_write_1h_tokens: 6000 });
    expect(!tooMany1h.ok && tooMany1h.reason).toMatch(/cache_write_1h_tokens \(6000\) cannot exceed cache_write_tokens \(5000\)/);
  });
});

describe('dated rows', () => {
  it('switches the o3 price on 2025-06-10', () => {
    const catalog = createPriceCatalog();
    expect(catalog.priceFor('o3', new Date('2025-06-09T23:59:59Z'))?.input).toBe(10);
    expect(catalog.priceFor('o3-2025-04-16', new Date('2025-06-10T00:00:00Z'))?.input).toBe(2);
    expect(catalog.priceFor('o3', new Date('2025-04-01T00:00:00Z'))).toBeUndefined();
  });

  it('says when a known model has no row yet at that date', () => {
    const result = createPriceCatalog().costOf({ ...fixtureUsage, model: 'o3', at: new Date('2025-01-01T00:00:00Z') });
    expect(!result.ok && result.reason).toMatch(
      /no price for model "o3" \(canonical "o3"\) on 2025-01-01: its first price row starts later/,
    );
  });

  it('keeps Sonnet 5 at the documented $2/$10 after 2026-09-01', () => {
    const row = createPriceCatalog().priceFor('claude-sonnet-5', new Date('2026-10-01T00:00:00Z'));
    expect(row).toMatchObject({ input: 2, output: 10, cache_read: 0.2, cache_write_5m: 2.5, cache_write_1h: 4 });
  });
});

describe('config overrides', () => {
  it('win from their effective date, and the bundled row applies before it', () => {
    const catalog = createPriceCatalog([{ model: 'claude-sonnet-4-5-20250929', effective_from: '2026-12-01', input: 2.4, output: 12 }]);
    expect(catalog.priceFor('claude-sonnet-4-5', new Date('2026-11-30T23:59:59Z'))).toMatchObject({ input: 3, origin: 'builtin' });
    const after = catalog.priceFor('claude-sonnet-4-5', new Date('2026-12-01T00:00:00Z'));
    // Missing cache prices keep Anthropic's ratios to the new input price.
    expect(after).toMatchObject({
      input: 2.4,
      output: 12,
      cache_read: 0.24,
      cache_write_5m: 3,
      cache_write_1h: 4.8,
      batch_discount: 0.5,
      tier: 'standard',
      origin: 'config',
    });
  });

  it('win over a bundled row with a later date', () => {
    const catalog = createPriceCatalog([{ model: 'o3', effective_from: '2025-05-01', input: 1, output: 4 }]);
    expect(catalog.priceFor('o3', new Date('2026-01-01T00:00:00Z'))).toMatchObject({ input: 1, output: 4, cache_read: 0.25 });
  });

  it('price a model the catalog does not know', () => {
    const catalog = createPriceCatalog([
      { model: 'claude-3-5-haiku', effective_from: '2024-10-22', input: 0.8, output: 4, tier: 'economy' },
    ]);
    const result = catalog.costOf({ ...fixtureUsage, model: 'anthropic/claude-3-5-haiku-20241022' });
    // 1200x0.8 + 40x4 + 20000x0.08 + 5000x1.0 per million
    expect(result).toMatchObject({ ok: true, cost_usd: 0.00772, tier: 'economy' });
  });

  it('let the later of two rows with the same date win', () => {
    const catalog = createPriceCatalog([
      { model: 'gpt-5', effective_from: '2026-01-01', input: 9, output: 9 },
      { model: 'gpt-5', effective_from: '2026-01-01', input: 1, output: 8 },
    ]);
    expect(catalog.priceFor('gpt-5', at)?.input).toBe(1);
  });

  it('reject a malformed date', () => {
    expect(() => createPriceCatalog([{ model: 'gpt-5', effective_from: '2026-13-45', input: 1, output: 1 }])).toThrow(
      /pricing\.prices\[0\]\.effective_from: expected a date such as 2026-09-01, got "2026-13-45"/,
    );
  });
});
