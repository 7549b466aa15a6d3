import { type Config, findTeam, type ReceiverEntry, type ReceiverName, receiversOf } from '@burnrate/core';
import { channelDefinition, receiverName } from '@burnrate/notify';
import { type Anomaly, SEVERITY_RANK, UNATTRIBUTED } from '@burnrate/schemas';

type RouteRule = Config['routes']['rules'][number];

/**
 * One concrete place a notification goes. `receiver` is its stable name in the deliveries table
 * (`slack:#payments-ai-spend`, `email:a@acme.com,b@acme.com`, `pagerduty:payments`), the key of
 * exactly-once delivery.
 */
export interface Target {
  receiver: string;
  /** The channel that sends it (a name in the channel registry), or `log` when nothing can be sent. */
  channel: string;
  /**
   * In the channel's terms (its definition's `to`): Slack one channel; email every address of
   * the receiver, all in To of one message; otherwise the receiver's name.
   */
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

type Address = { channel: string; to: string[] } | { invalid: string };
// Config objects do not change once loaded, so a `receivers:` entry is read through its channel
// once (the shorthand's entries are built per call and read each time: a cheap parse).
const addresses = new WeakMap<ReceiverEntry, Address>();

/** Where a configured receiver sends, as its channel's definition says. */
function addressOf(entry: ReceiverEntry): Address {
  let address = addresses.get(entry);
  if (!address) {
    const definition = channelDefinition(entry.channel);
    const parsed = definition?.receiver.safeParse(entry);
    address = !definition
      ? { invalid: `unknown channel "${entry.channel}"` }
      : parsed?.success
        ? { channel: definition.name, to: definition.to(parsed.data) }
        : { invalid: `not a valid ${definition.name} receiver: ${parsed?.error.issues.map((i) => i.message).join('; ')}` };
    addresses.set(entry, address);
  }
  return address;
}

function targetsOf(entries: readonly ReceiverEntry[], via: ReceiverName): Target[] {
  return entries.map((entry) => {
    const address = addressOf(entry);
    // Only a config loaded without the channel registry gets here (buildChannels refuses it at start).
    if ('invalid' in address) return { receiver: `log:${entry.channel}`, channel: 'log', to: [], via, unroutable: address.invalid };
    return { receiver: receiverName(address.channel, address.to), channel: address.channel, to: address.to, via };
  });
}

/**
 * Where an anomaly goes: nowhere below `routes.min_severity`; otherwise the receivers of its
 * receiver groups (team, on-call, FinOps), each through its channel. Spend nobody owns (team
 * `unattributed`, or a team not in the config) goes to FinOps; with no FinOps receivers it
 * becomes a `log` target so the gap is recorded rather than silent. A receiver listed twice
 * collapses, and what a channel already addresses for this anomaly (a Slack channel, an email
 * address) is not addressed again.
 */
export function routeAnomaly(config: Config, a: Anomaly): Route {
  const minSeverity = config.routes.min_severity;
  if (SEVERITY_RANK[a.severity] < SEVERITY_RANK[minSeverity]) return { kind: 'below_min_severity', minSeverity };

  const receivers = resolveReceivers(config, a);
  const team = a.subject.team === UNATTRIBUTED ? undefined : findTeam(config, a.subject.team);
  const candidates: Target[] = [];
  for (const receiver of receivers) {
    if (receiver === 'finops' || !team) candidates.push(...targetsOf(receiversOf(config.finops), 'finops'));
    else if (receiver === 'team') candidates.push(...targetsOf(receiversOf(team), 'team'));
    else candidates.push(...targetsOf(receiversOf(team.oncall), 'oncall'));
  }

  const targets: Target[] = [];
  const addressed = new Map<string, Set<string>>();
  for (const t of candidates) {
    if (t.channel === 'log') {
      if (!targets.some((x) => x.receiver === t.receiver)) targets.push(t);
      continue;
    }
    const seen = addressed.get(t.channel) ?? new Set<string>();
    addressed.set(t.channel, seen);
    const fresh = t.to.filter((to) => !seen.has(to));
    for (const to of fresh) seen.add(to);
    if (fresh.length > 0) targets.push(fresh.length === t.to.length ? t : { ...t, to: fresh, receiver: receiverName(t.channel, fresh) });
  }

  if (targets.length === 0) {
    const unroutable = !team
      ? a.subject.team === UNATTRIBUTED
        ? 'unattributed spend and no finops receiver configured'
        : `team "${a.subject.team}" is not in the config and no finops receiver is configured`
      : `no receivers configured for ${receivers.join(', ')} of team "${team.id}"`;
    targets.push({ receiver: 'log', channel: 'log', to: [], via: receivers[0] ?? 'team', unroutable });
  }
  return { kind: 'targets', receivers, targets };
}

/** The receivers of one group (the team's on-call, or FinOps) for an anomaly: where an escalation goes. */
export function groupTargets(config: Config, a: Anomaly, group: 'oncall' | 'finops'): Target[] {
  const team = a.subject.team === UNATTRIBUTED ? undefined : findTeam(config, a.subject.team);
  const entries = group === 'finops' ? receiversOf(config.finops) : receiversOf(team?.oncall);
  return targetsOf(entries, group).filter((t) => t.channel !== 'log');
}
