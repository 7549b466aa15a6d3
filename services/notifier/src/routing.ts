import { type Config, findTeam, type ReceiverName } from '@burnrate/core';
import { type Anomaly, SEVERITY_RANK, UNATTRIBUTED } from '@burnrate/schemas';

type RouteRule = Config['routes']['rules'][number];

/**
 * One concrete place a notification goes. `receiver` is its stable name in the deliveries table
 * (`slack:#payments-ai-spend`, `email:a@acme.com,b@acme.com`), the key of exactly-once delivery.
 */
export interface Target {
  receiver: string;
  channel: 'slack' | 'email' | 'log';
  /** Slack: one channel. Email: every address of the receiver, all in To of one message. */
  to: string[];
  /** Which configured receiver it came from. */
  via: ReceiverName;
  /** For `log` targets: why nothing can be sent. */
  unroutable?: string;
}

export type Route = { kind: 'below_min_severity'; minSeverity: string } | { kind: 'targets'; receivers: ReceiverName[]; targets: Target[] };

function includes<T extends string>(wanted: T | readonly T[] | undefined, value: string | undefined): boolean {
  if (wanted === undefined) return true;
  if (value === undefined) return false;
  return typeof wanted === 'string' ? wanted === value : (wanted as readonly string[]).includes(value);
}

/** `*` matches any run of characters; model names vary by date suffix (claude-opus-4-5-20251101). */
export function globMatch(pattern: string, value: string): boolean {
  const re = new RegExp(
    `^${pattern
      .split('*')
      .map((p) => p.replace(/[.+?^${}()|[\]\\]/g, '\\$&'))
      .join('.*')}$`,
  );
  return re.test(value);
}

export function ruleMatches(rule: RouteRule, a: Anomaly): boolean {
  const m = rule.match;
  return (
    includes(m.kind, a.kind) &&
    includes(m.severity, a.severity) &&
    includes(m.team, a.subject.team) &&
    (m.model === undefined || (a.subject.model !== undefined && globMatch(m.model, a.subject.model)))
  );
}

/**
 * The receivers for an anomaly, Alertmanager style: rules in file order, the first match wins
 * unless it says `continue`; no match means the owning team.
 */
export function resolveReceivers(config: Config, a: Anomaly): ReceiverName[] {
  const receivers: ReceiverName[] = [];
  let matched = false;
  for (const rule of config.routes.rules) {
    if (!ruleMatches(rule, a)) continue;
    matched = true;
    for (const r of rule.notify) if (!receivers.includes(r)) receivers.push(r);
    if (!rule.continue) break;
  }
  return matched ? receivers : ['team'];
}

const slackTarget = (channel: string, via: ReceiverName): Target => ({
  receiver: `slack:${channel}`,
  channel: 'slack',
  to: [channel],
  via,
});
const emailTarget = (addresses: readonly string[], via: ReceiverName): Target => {
  const to = [...new Set(addresses)].sort();
  return { receiver: `email:${to.join(',')}`, channel: 'email', to, via };
};

function finopsTargets(config: Config): Target[] {
  const targets: Target[] = [];
  if (config.finops?.slack) targets.push(slackTarget(config.finops.slack.channel, 'finops'));
  if (config.finops?.email.length) targets.push(emailTarget(config.finops.email, 'finops'));
  return targets;
}

/**
 * Where an anomaly goes: nowhere below `routes.min_severity`; otherwise the concrete Slack
 * channels and email groups of its receivers. Spend nobody owns (team `unattributed`, or a team
 * not in the config) goes to FinOps; with no FinOps receivers it becomes a `log` target so the
 * gap is recorded rather than silent. Duplicate channels collapse, and an address already in one
 * email of this anomaly is not put in another.
 */
export function routeAnomaly(config: Config, a: Anomaly): Route {
  const minSeverity = config.routes.min_severity;
  if (SEVERITY_RANK[a.severity] < SEVERITY_RANK[minSeverity]) return { kind: 'below_min_severity', minSeverity };

  const receivers = resolveReceivers(config, a);
  const team = a.subject.team === UNATTRIBUTED ? undefined : findTeam(config, a.subject.team);
  const candidates: Target[] = [];
  for (const receiver of receivers) {
    if (receiver === 'finops' || !team) {
      candidates.push(...finopsTargets(config));
    } else if (receiver === 'team') {
      if (team.slack) candidates.push(slackTarget(team.slack.channel, 'team'));
      if (team.email.length > 0) candidates.push(emailTarget(team.email, 'team'));
    } else {
      if (team.oncall?.slack) candidates.push(slackTarget(team.oncall.slack.channel, 'oncall'));
      if (team.oncall?.email.length) candidates.push(emailTarget(team.oncall.email, 'oncall'));
    }
  }

  const targets: Target[] = [];
  const addressed = new Set<string>();
  for (const t of candidates) {
    if (t.channel === 'slack') {
      if (!targets.some((x) => x.receiver === t.receiver)) targets.push(t);
      continue;
    }
    const fresh = t.to.filter((addr) => !addressed.has(addr));
    for (const addr of fresh) addressed.add(addr);
    if (fresh.length > 0) targets.push(fresh.length === t.to.length ? t : emailTarget(fresh, t.via));
  }

  if (targets.length === 0) {
    const unroutable = !team
      ? a.subject.team === UNATTRIBUTED
        ? 'unattributed spend and no finops receiver configured'
        : `team "${a.subject.team}" is not in the config and no finops receiver is configured`
      : `no Slack channel or email configured for ${receivers.join(', ')} of team "${team.id}"`;
    targets.push({ receiver: 'log', channel: 'log', to: [], via: receivers[0] ?? 'team', unroutable });
  }
  return { kind: 'targets', receivers, targets };
}
