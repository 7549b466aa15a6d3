import { parseConfig } from '@burnrate/core';
import { receiverSchema } from '@burnrate/notify';
import { anomaly } from '@burnrate/testing/builders';
import { describe, expect, it } from 'vitest';
import { globMatch, resolveReceivers, routeAnomaly } from './routing.ts';

const base = `
org: acme
teams:
  - id: payments
    slack: { channel: "#payments-ai-spend" }
    email: [payments-leads@acme.com, cto@acme.com]
    oncall: { email: [oncall-payments@acme.com, cto@acme.com], slack: { channel: "#payments-oncall" } }
  - id: research
    email: [research@acme.com]
  - id: quiet
`;
const finops = `finops: { slack: { channel: "#finops" }, email: [finops@acme.com] }\n`;
const rules = `
routes:
  rules:
    - match: { severity: critical }
      notify: [team, oncall]
    - match: { kind: [model_mix_drift, budget_forecast] }
      notify: [finops]
      continue: true
    - match: { kind: model_mix_drift, team: research }
      notify: [team]
    - match: { model: "gpt-5*" }
      notify: [finops]
`;

describe('resolveReceivers', () => {
  const config = parseConfig(base + finops + rules);
  it.each([
    ['no rule matches → team', {}, ['team']],
    ['first match wins', { severity: 'critical' as const, kind: 'model_mix_drift' as const }, ['team', 'oncall']],
    ['continue keeps evaluating', { kind: 'model_mix_drift' as const, subject: { team: 'research' } }, ['finops', 'team']],
    ['continue with no later match', { kind: 'budget_forecast' as const }, ['finops']],
    ['model glob', { kind: 'spend_spike' as const, subject: { model: 'gpt-5-mini' } }, ['finops']],
    ['model glob needs a model', { kind: 'spend_spike' as const, subject: { model: undefined } }, ['team']],
    ['team list does not match another team', { kind: 'model_mix_drift' as const, subject: { team: 'payments' } }, ['finops']],
  ])('%s', (_name, overrides, expected) => {
    expect(resolveReceivers(config, anomaly(overrides))).toEqual(expected);
  });
});

describe('routeAnomaly', () => {
  const receivers = (configText: string, overrides: Parameters<typeof anomaly>[0]) => {
    const route = routeAnomaly(parseConfig(configText), anomaly(overrides));
    return route.kind === 'targets' ? route.targets.map((t) => ({ receiver: t.receiver, to: t.to })) : route.kind;
  };

  it.each([
    [
      'team: Slack channel and one email with every address',
      base,
      {},
      [
        { receiver: 'slack:#payments-ai-spend', to: ['#payments-ai-spend'] },
        { receiver: 'email:cto@acme.com,payments-leads@acme.com', to: ['cto@acme.com', 'payments-leads@acme.com'] },
      ],
    ],
    [
      'critical adds oncall; an address already emailed is not emailed twice',
      base + finops + rules,
      { severity: 'critical' as const },
      [
        { receiver: 'slack:#payments-ai-spend', to: ['#payments-ai-spend'] },
        { receiver: 'email:cto@acme.com,payments-leads@acme.com', to: ['cto@acme.com', 'payments-leads@acme.com'] },
        { receiver: 'slack:#payments-oncall', to: ['#payments-oncall'] },
        { receiver: 'email:oncall-payments@acme.com', to: ['oncall-payments@acme.com'] },
      ],
    ],
    ['team with email only', base, { subject: { team: 'research' } }, [{ receiver: 'email:research@acme.com', to: ['research@acme.com'] }]],
    [
      'unattributed → finops',
      base + finops,
      { subject: { team: 'unattributed', developer: 'ghost@elsewhere.com' } },
      [
        { receiver: 'slack:#finops', to: ['#finops'] },
        { receiver: 'email:finops@acme.com', to: ['finops@acme.com'] },
      ],
    ],
    [
      'unknown team → finops',
      base + finops,
      { subject: { team: 'marketing' } },
      [
        { receiver: 'slack:#finops', to: ['#finops'] },
        { receiver: 'email:finops@acme.com', to: ['finops@acme.com'] },
      ],
    ],
    ['unattributed without finops → log', base, { subject: { team: 'unattributed' } }, [{ receiver: 'log', to: [] }]],
    ['team without any receiver → log', base, { subject: { team: 'quiet' } }, [{ receiver: 'log', to: [] }]],
    ['info is below the default min_severity', base, { severity: 'info' as const }, 'below_min_severity'],
    ['min_severity critical holds back a warning', base + 'routes: { min_severity: critical }\n', {}, 'below_min_severity'],
    [
      'min_severity info lets info through',
      base + 'routes: { min_severity: info }\n',
      { severity: 'info' as const },
      [
        { receiver: 'slack:#payments-ai-spend', to: ['#payments-ai-spend'] },
        { receiver: 'email:cto@acme.com,payments-leads@acme.com', to: ['cto@acme.com', 'payments-leads@acme.com'] },
      ],
    ],
  ])('%s', (_name, configText, overrides, expected) => {
    expect(receivers(configText, overrides)).toEqual(expected);
  });

  it('says why a log target has nowhere to go', () => {
    const route = routeAnomaly(parseConfig(base), anomaly({ subject: { team: 'unattributed' } }));
    expect(route.kind === 'targets' && route.targets[0]?.unroutable).toBe('unattributed spend and no finops receiver configured');
  });
});

describe('routeAnomaly with receivers lists', () => {
  const config = parseConfig(
    `
org: acme
public_url: https://burnrate.acme.internal
teams:
  - id: payments
    slack: { channel: "#payments-ai-spend" }
    receivers:
      - { channel: email, to: [payments-leads@acme.com, cto@acme.com] }
      - { channel: webhook, name: ops-bus, url: "https://hooks.acme.internal/burnrate", secret_env: OPS_SECRET }
      - { channel: msteams, name: payments, url_env: TEAMS_PAYMENTS_URL }
      - { channel: slack, to: "#payments-ai-spend" }
    oncall:
      receivers:
        - { channel: pagerduty, name: payments-oncall, routing_key_env: PD_PAYMENTS }
        - { channel: email, to: [cto@acme.com, oncall@acme.com] }
        - { channel: webhook, name: ops-bus, url: "https://hooks.acme.internal/burnrate", secret_env: OPS_SECRET }
routes:
  rules:
    - match: { severity: critical }
      notify: [team, oncall]
`,
    '<inline>',
    { receiver: receiverSchema },
  );

  it('builds one target per receiver, named by its channel, and collapses what is addressed twice', () => {
    const route = routeAnomaly(config, anomaly({ severity: 'critical' }));
    expect(route.kind === 'targets' && route.targets.map((t) => [t.channel, t.receiver, t.to, t.via])).toEqual([
      ['slack', 'slack:#payments-ai-spend', ['#payments-ai-spend'], 'team'],
      ['email', 'email:cto@acme.com,payments-leads@acme.com', ['cto@acme.com', 'payments-leads@acme.com'], 'team'],
      ['webhook', 'webhook:ops-bus', ['ops-bus'], 'team'],
      ['msteams', 'msteams:payments', ['payments'], 'team'],
      ['pagerduty', 'pagerduty:payments-oncall', ['payments-oncall'], 'oncall'],
      ['email', 'email:oncall@acme.com', ['oncall@acme.com'], 'oncall'],
    ]);
  });

  it('records a receiver its channel cannot read (a config loaded without the registry) as a log target saying why', () => {
    const loose = parseConfig('org: acme\nteams:\n  - id: payments\n    receivers: [{ channel: slack, to: nope }, { channel: pigeon }]\n');
    const route = routeAnomaly(loose, anomaly());
    expect(route.kind === 'targets' && route.targets.map((t) => [t.receiver, t.channel, t.unroutable])).toEqual([
      ['log:slack', 'log', 'not a valid slack receiver: expected a channel like #name (or a channel id like C0123ABCD)'],
      ['log:pigeon', 'log', 'unknown channel "pigeon"'],
    ]);
  });

  it('says "no receivers" for a team without any', () => {
    const route = routeAnomaly(parseConfig('org: acme\nteams:\n  - id: quiet\n'), anomaly({ subject: { team: 'quiet' } }));
    expect(route.kind === 'targets' && route.targets[0]?.unroutable).toBe('no receivers configured for team of team "quiet"');
  });
});

describe('globMatch', () => {
  it.each([
    ['gpt-5*', 'gpt-5-mini', true],
    ['gpt-5*', 'gpt-4o', false],
    ['claude-opus-4-5', 'claude-opus-4-5', true],
    ['claude.opus', 'claude-opus', false],
    ['*opus*', 'claude-opus-4-5-20251101', true],
  ])('%s ~ %s = %s', (pattern, value, expected) => {
    expect(globMatch(pattern, value)).toBe(expected);
  });
});
