import { ConfigError, parseConfig } from '@burnrate/core';
import { anomaly } from '@burnrate/testing/builders';
import { describe, expect, it } from 'vitest';
import { receiverSchema } from '../registry.ts';
import { pagerduty, pagerDutyAction, pagerDutyDedupKey, pagerDutyUpdateAction, renderPagerDuty } from './pagerduty.ts';

/** `path (line n): message` of every problem with one receiver of a team; empty when it loads. */
function receiverIssues(receiver: string): string[] {
  try {
    parseConfig(`org: acme\nteams:\n  - id: payments\n    receivers:\n      - ${receiver}\n`, '<inline>', { receiver: receiverSchema });
    return [];
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    return err.issues.map((i) => `${i.path}${i.line ? ` (line ${i.line})` : ''}: ${i.message}`);
  }
}

const KEY = 'R0123456789abcdef0123456789abcde';

describe('renderPagerDuty', () => {
  it('triggers an open version with the documented payload, severity mapped and a link to the anomaly', () => {
    const a = anomaly({ id: 'pd-1', version: 2, severity: 'critical', observed: { value: 104.2, unit: 'usd' }, impact_usd: 79.2 });
    const event = renderPagerDuty(
      { anomaly: a, reason: 'escalated', to: ['payments'], receiver: 'pagerduty:payments' },
      { routingKey: KEY, publicUrl: 'https://burnrate.acme.internal/' },
    );
    expect(event).toMatchObject({
      routing_key: KEY,
      event_action: 'trigger',
      dedup_key: 'pd-1',
      payload: {
        summary: `[critical] Session cost $104 for alice@acme.com (payments): ${a.summary}`,
        source: 'burnrate/acme/payments',
        severity: 'critical',
        timestamp: a.detected_at,
        component: 'claude-opus-4-5',
        group: 'payments',
        class: 'session_cost',
        custom_details: { anomaly_id: 'pd-1', version: 2, reason: 'escalated', receiver: 'pagerduty:payments', impact_usd: 79.2 },
      },
      links: [{ href: 'https://burnrate.acme.internal/anomalies/pd-1', text: 'Open in Burnrate' }],
      client: 'Burnrate',
      client_url: 'https://burnrate.acme.internal/',
    });
  });

  it.each([
    ['critical', 'critical'],
    ['warning', 'warning'],
    ['info', 'info'],
  ] as const)('maps severity %s to %s', (severity, expected) => {
    expect(renderPagerDuty({ anomaly: anomaly({ severity }), reason: 'new', to: ['p'] }, { routingKey: KEY }).payload?.severity).toBe(
      expected,
    );
  });

  it('resolves the resolved version with the keys alone, as documented', () => {
    const a = anomaly({ id: 'pd-2', version: 4, status: 'resolved' });
    expect(pagerDutyAction({ anomaly: a, reason: 'resolved' })).toBe('resolve');
    expect(renderPagerDuty({ anomaly: a, reason: 'resolved', to: ['p'] }, { routingKey: KEY, publicUrl: 'https://x.example' })).toEqual({
      routing_key: KEY,
      event_action: 'resolve',
      dedup_key: 'pd-2',
    });
  });

  it('acknowledges with the keys alone', () => {
    expect(
      renderPagerDuty({ anomaly: anomaly({ id: 'pd-3' }), reason: 'new', to: ['p'] }, { routingKey: KEY, action: 'acknowledge' }),
    ).toEqual({
      routing_key: KEY,
      event_action: 'acknowledge',
      dedup_key: 'pd-3',
    });
  });

  it('keeps the summary within 1,024 characters on one line, and sends no link without public_url', () => {
    const event = renderPagerDuty(
      { anomaly: anomaly({ summary: `line one\nline two ${'€'.repeat(3000)}` }), reason: 'new', to: ['p'] },
      { routingKey: KEY },
    );
    expect(event.payload?.summary.length).toBeLessThanOrEqual(1024);
    expect(event.payload?.summary).not.toContain('\n');
    expect(event.payload?.summary.endsWith('…')).toBe(true);
    expect(event.links).toBeUndefined();
    expect(event.client_url).toBeUndefined();
  });
});

describe('pagerDutyUpdateAction', () => {
  it.each([
    [{ state: 'acknowledged' } as const, 'acknowledge'],
    [{ state: 'resolved', reason: 'noise' } as const, 'resolve'],
    [{ state: 'snoozed', snoozed_until: '2026-11-28T08:00:00.000Z' } as const, undefined],
    [{ state: 'open' } as const, undefined],
    [undefined, undefined],
  ])('%o → %s', (lifecycle, expected) => {
    expect(pagerDutyUpdateAction(lifecycle ? { lifecycle } : {})).toBe(expected);
  });
});

describe('renderPagerDuty for groups and escalations', () => {
  it('names the group and the escalation in custom_details', () => {
    const group = [anomaly({ id: 'g-0' }), anomaly({ id: 'g-1' })];
    const event = renderPagerDuty(
      { anomaly: group[0] ?? anomaly(), group, reason: 'new', to: ['p'], escalation: { to: 'oncall', unacknowledgedForMs: 1_800_000 } },
      { routingKey: KEY },
    );
    expect(event.payload?.custom_details).toMatchObject({
      group: { title: '2 session cost anomalies for team payments', size: 2, anomaly_ids: ['g-0', 'g-1'] },
      escalation: { to: 'oncall', unacknowledged_for_min: 30 },
    });
  });
});

describe('pagerDutyDedupKey', () => {
  it('is the anomaly id, or a hash of it past PagerDuty’s 255 characters', () => {
    expect(pagerDutyDedupKey('session_cost:acme:alice')).toBe('session_cost:acme:alice');
    const long = `session_cost:acme:${'x'.repeat(300)}`;
    expect(pagerDutyDedupKey(long)).toMatch(/^burnrate:[0-9a-f]{64}$/);
    expect(pagerDutyDedupKey(long)).toBe(pagerDutyDedupKey(long));
    expect(pagerDutyDedupKey(`${long}y`)).not.toBe(pagerDutyDedupKey(long));
  });
});

describe('pagerduty receivers in burnrate.yaml', () => {
  it('reads the variable that holds the routing key, never the key itself', () => {
    expect(receiverIssues('{ channel: pagerduty, name: payments-oncall, routing_key_env: PD_PAYMENTS }')).toEqual([]);
    const r = pagerduty.receiver.parse({ channel: 'pagerduty', name: 'payments-oncall', routing_key_env: 'PD_PAYMENTS' });
    expect(pagerduty.to(r)).toEqual(['payments-oncall']);
    expect(pagerduty.secrets?.(r)).toEqual([{ field: 'routing_key_env', variable: 'PD_PAYMENTS' }]);
  });

  it.each([
    [
      'no routing key variable',
      '{ channel: pagerduty, name: payments }',
      ['teams[0].receivers[0].routing_key_env (line 5): is required (string)'],
    ],
    [
      'a routing key in the file',
      '{ channel: pagerduty, name: payments, routing_key: R0123 }',
      ['teams[0].receivers[0].routing_key_env (line 5): is required (string)', 'teams[0].receivers[0] (line 5): unknown key "routing_key"'],
    ],
    [
      'a variable that is not a name',
      '{ channel: pagerduty, name: payments, routing_key_env: "R0123 456" }',
      ['teams[0].receivers[0].routing_key_env (line 5): expected an environment variable name such as PD_PAYMENTS_ROUTING_KEY'],
    ],
  ])('names the problem for %s', (_name, receiver, expected) => {
    expect(receiverIssues(receiver)).toEqual(expected);
  });

  it('refuses one name for two services', () => {
    expect(() =>
      parseConfig(
        `org: acme
teams:
  - id: payments
    receivers: [{ channel: pagerduty, name: oncall, routing_key_env: PD_PAYMENTS }]
  - id: research
    receivers: [{ channel: pagerduty, name: oncall, routing_key_env: PD_RESEARCH }]
`,
        '<inline>',
        { receiver: receiverSchema },
      ),
    ).toThrow(
      'teams[1].receivers[0].name (line 6): another pagerduty receiver is named "oncall" with other settings (teams[0].receivers[0]); one name, one receiver',
    );
  });
});
