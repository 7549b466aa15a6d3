import { createHttpApp, createLogger, fixedClock, fixedConfig } from '@burnrate/core';
import { DlqRecord, TOPICS, UsageEvent } from '@burnrate/schemas';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { createIngestRoutes, type EventsResponse } from './http.ts';
import { normalizeLiteLlm } from './litellm.ts';
import { fakeProducer, NOW, testConfig, testContext, trust } from './test-helpers.ts';

const batch = readFileSync(new URL('../fixtures/litellm/generic-api.json', import.meta.url), 'utf8');
const payloads = JSON.parse(batch) as Record<string, unknown>[];
const log = createLogger({ level: 'silent' });

function setup() {
  const producer = fakeProducer();
  const routes = createIngestRoutes({ config: fixedConfig(testConfig), producer, clock: fixedClock(NOW), log, ...trust(testConfig) });
  const app = createHttpApp({ routes, log });
  return {
    post: (body: string, type = 'application/json') =>
      app.inject({ method: 'POST', url: '/v1/litellm', headers: { 'content-type': type }, body }),
    events: () => producer.messages(TOPICS.usageEvents.name).map((m) => UsageEvent.parse(m)),
    dlq: () => producer.messages(TOPICS.usageDlq.name).map((m) => DlqRecord.parse(m)),
  };
}

describe('LiteLLM generic API payloads', () => {
  it('prices an Anthropic call through a team key, taking the cache reads and writes out of prompt_tokens', () => {
    const result = normalizeLiteLlm(payloads[0], testContext('litellm'));
    expect(result).toMatchObject({ ok: true });
    const event = (result as { event: UsageEvent }).event;
    expect(event).toMatchObject({
      source: 'litellm',
      tool: 'litellm-proxy',
      provider: 'anthropic',
      occurred_at: '2025-11-28T10:00:00.125Z',
      developer: 'bob@acme.com',
      developer_email: 'bob@acme.com',
      // The key's team alias is the declared team, placed by the config's ownership rule.
      team: 'platform',
      model: 'claude-sonnet-4-5-20250929',
      input_tokens: 1200,
      cache_read_tokens: 20000,
      cache_write_tokens: 5000,
      output_tokens: 1020,
      cost_usd: 0.04365,
      cost_source: 'reported',
      computed_cost_usd: 0.04365,
      prompt_id: 'a6d2c1f0-3b4e-4c5d-8e9f-0a1b2c3d4e5f',
      api_key_id: '88dc28d0f030c55ed4ab77ed8faf098196cb1c05df778539800c9f1243fe6b4b',
    });
    expect(event.attributes).toMatchObject({ 'litellm.key_alias': 'platform-agents', 'litellm.request_tags': 'ci,agent' });
  });

  it('reads OpenAI cached_tokens and falls back to the end user when the key has no user', () => {
    const event = (normalizeLiteLlm(payloads[1], testContext('litellm')) as { event: UsageEvent }).event;
    expect(event).toMatchObject({
      developer: 'svc-reporting',
      team: 'platform',
      input_tokens: 3000,
      cache_read_tokens: 1500,
      output_tokens: 650,
    });
    expect(event.computed_cost_usd).toBeCloseTo(0.0104375, 7);
  });

  it('ignores failed calls and LiteLLM response-cache hits: no provider spend', () => {
    expect(normalizeLiteLlm(payloads[2], testContext('litellm'))).toEqual({ ignored: 'failure' });
    expect(normalizeLiteLlm({ ...payloads[0], cache_hit: true }, testContext('litellm'))).toEqual({ ignored: 'cache_hit' });
  });

  it('names every field it cannot read', () => {
    const result = normalizeLiteLlm(
      { ...payloads[0], id: undefined, startTime: '2025-11-28', response_cost: -1, completion_tokens: 1.5 },
      testContext('litellm'),
    );
    expect(result).toMatchObject({ ok: false });
    expect((result as { issues: { field: string }[] }).issues.map((i) => i.field)).toEqual([
      'id',
      'startTime',
      'response_cost',
      'completion_tokens',
    ]);
  });

  it('refuses cache counts larger than the prompt they are part of', () => {
    const result = normalizeLiteLlm({ ...payloads[0], prompt_tokens: 100 }, testContext('litellm'));
    expect(result).toMatchObject({ ok: false, issues: [{ field: 'prompt_tokens' }] });
  });
});

describe('POST /v1/litellm', () => {
  it('takes a json_array batch: publishes the calls, counts the failure as ignored, and a resend is all duplicates', async () => {
    const { post, events } = setup();
    const res = await post(batch);
    expect(res.status).toBe(200);
    expect(res.json<EventsResponse>()).toEqual({ accepted: 2, duplicates: 0, rejected: [], ignored: { failure: 1 } });
    expect(events().map((e) => e.model)).toEqual(['claude-sonnet-4-5-20250929', 'gpt-5']);
    const again = await post(batch);
    expect(again.json<EventsResponse>()).toMatchObject({ accepted: 2, duplicates: 2 });
    expect(events()).toHaveLength(2);
  });

  it('takes log_format ndjson and single the same way', async () => {
    const ndjson = setup();
    expect((await ndjson.post(payloads.map((p) => JSON.stringify(p)).join('\n'), 'application/x-ndjson')).status).toBe(200);
    const single = setup();
    expect((await single.post(JSON.stringify(payloads[0]))).status).toBe(200);
    expect(single.events()).toEqual(ndjson.events().slice(0, 1));
  });

  it('answers 400 naming the bad payload and its field, dead-letters it, and keeps the rest', async () => {
    const { post, events, dlq } = setup();
    const res = await post(JSON.stringify([payloads[0], { ...payloads[1], startTime: 'yesterday' }]));
    expect(res.status).toBe(400);
    expect(res.json<EventsResponse>().rejected).toEqual([
      { index: 1, field: 'startTime', message: 'expected epoch seconds (a number such as 1764324000.5), got "yesterday"' },
    ]);
    expect(events()).toHaveLength(1);
    expect(dlq().map((d) => [d.source, d.index])).toEqual([['litellm', 1]]);
  });
});
