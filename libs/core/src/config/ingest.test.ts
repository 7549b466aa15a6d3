import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { configJsonSchema } from './json-schema.ts';
import { RAW_EVENT_RETENTION_DAYS } from './ingest.ts';
import { ConfigError, parseConfig } from './load.ts';

const DAY_MS = 86_400_000;

function issuesOf(yaml: string): string[] {
  try {
    parseConfig(yaml);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as ConfigError).issues.map((i) => `${i.path}: ${i.message}`);
  }
  throw new Error('expected the config to be rejected');
}

describe('ingest.limits', () => {
  it('has a default for every limit and setting', () => {
    expect(parseConfig('org: acme').ingest).toEqual({
      auth: 'keys',
      rate_limit: { requests_per_second: 50, burst: 200 },
      dedupe_window: 48 * 3_600_000,
      limits: {
        max_cost_usd_per_event: 100_000,
        max_tokens_per_event: 100_000_000_000,
        max_age: 400 * DAY_MS,
        max_future: DAY_MS,
        max_text_length: 512,
        max_attribute_length: 1024,
        max_records_per_request: 5000,
      },
    });
  });

  it('changes only the limits a file names', () => {
    const { limits } = parseConfig('org: acme\ningest:\n  limits: { max_age: 90d, max_records_per_request: 1000 }').ingest;
    expect(limits.max_age).toBe(90 * DAY_MS);
    expect(limits.max_records_per_request).toBe(1000);
    expect(limits.max_future).toBe(DAY_MS);
  });

  it.each([
    [
      'an age beyond the store retention',
      'max_age: 401d',
      'ingest.limits.max_age: must be at most 400d: the store keeps raw events 400 days, so an older event would be deleted on arrival while the hourly spend kept it',
    ],
    ['an age under a day', 'max_age: 2h', 'ingest.limits.max_age: must be at least 1d'],
    ['a far future', 'max_future: 45d', 'ingest.limits.max_future: must be at most 30d, got 45d'],
    [
      'a cost past the schema cap',
      'max_cost_usd_per_event: 2e9',
      'ingest.limits.max_cost_usd_per_event: Too big: expected number to be <=1000000000',
    ],
    [
      'tokens past the schema cap',
      'max_tokens_per_event: 1e13',
      'ingest.limits.max_tokens_per_event: Too big: expected number to be <=1000000000000',
    ],
    ['a text length too short for real ids', 'max_text_length: 16', 'ingest.limits.max_text_length: Too small: expected number to be >=64'],
    ['a record cap of zero', 'max_records_per_request: 0', 'ingest.limits.max_records_per_request: Too small: expected number to be >0'],
    ['a misspelt limit', 'max_cost_per_event: 5', 'ingest.limits: unknown key "max_cost_per_event"'],
  ])('refuses %s, naming the path', (_name, line, expected) => {
    expect(issuesOf(`org: acme\ningest:\n  limits: { ${line} }`)).toEqual([expected]);
  });

  it('keeps the retention in step with the TTL of usage_events_v1', () => {
    const sql = readFileSync(new URL('../../../../infra/clickhouse/0001_usage_events.sql', import.meta.url), 'utf8');
    const ttl = /^TTL toDateTime\(occurred_at\) \+ INTERVAL (\d+) DAY$/m.exec(sql);
    expect(ttl?.[1]).toBe(String(RAW_EVENT_RETENTION_DAYS));
  });

  it('is in the JSON Schema editors read, durations as strings', () => {
    const schema = configJsonSchema() as {
      properties: Record<string, { properties?: Record<string, { properties?: Record<string, unknown> }> }>;
    };
    const limits = schema.properties.ingest?.properties?.limits?.properties ?? {};
    expect(Object.keys(limits)).toEqual([
      'max_cost_usd_per_event',
      'max_tokens_per_event',
      'max_age',
      'max_future',
      'max_text_length',
      'max_attribute_length',
      'max_records_per_request',
    ]);
    expect(limits.max_age).toMatchObject({ type: 'string' });
  });
});
