import { channelDefinition, type NotificationReason } from '@burnrate/notify';
import { type Anomaly, SEVERITY_RANK, type Severity } from '@burnrate/schemas';
import type { DeliveryRecord } from '@burnrate/store';
import { formatUsd } from '@burnrate/detection';

/** What the notifier remembers of each version it has seen, to compare a new one against. */
export interface VersionFacts {
  severity: Severity;
  status: Anomaly['status'];
  impact_usd: number;
}

export const factsOf = (a: Anomaly): VersionFacts => ({ severity: a.severity, status: a.status, impact_usd: a.impact_usd });

export interface RenotifyPolicy {
  /** An open anomaly whose impact has grown this many times since the last message notifies again. */
  impactFactor: number;
  /** …and by at least this many dollars, so $0.50 → $1.20 is not news. */
  minImpactIncreaseUsd: number;
  /** Growth is sent at all (false for a channel whose every message pages: `ChannelDefinition.pagesOnly`). Default true. */
  sendGrowth?: boolean;
}

/** The policy for one receiver's channel: growth is not sent where every message pages (email). */
export function policyFor(channel: string, policy: RenotifyPolicy = DEFAULT_RENOTIFY): RenotifyPolicy {
  return channelDefinition(channel)?.pagesOnly === true ? { ...policy, sendGrowth: false } : policy;
}

export const DEFAULT_RENOTIFY: RenotifyPolicy = { impactFactor: 2, minImpactIncreaseUsd: 10 };

export type Decision =
  /** This receiver already has this version (sent, or deliberately skipped): nothing to do or record. */
  { action: 'done' } | { action: 'skip'; detail: string } | { action: 'send'; reason: NotificationReason };

/** `decide` as if no send of this version had begun (the caller settles a pending one itself). */
export function decideAfresh(
  a: Anomaly,
  history: readonly DeliveryRecord[],
  facts: (version: number) => VersionFacts | undefined,
  policy: RenotifyPolicy = DEFAULT_RENOTIFY,
): Decision {
  const same = history.find((d) => d.version === a.version);
  if (same && (same.status === 'sent' || same.status === 'skipped')) return { action: 'done' };
  const newer = history.filter((d) => d.version > a.version && d.status !== 'failed').map((d) => d.version);
  if (newer.length > 0) return { action: 'skip', detail: `superseded: v${Math.max(...newer)} already handled for this receiver` };

  const sent = history.filter((d) => d.status === 'sent' && d.version < a.version).sort((x, y) => x.version - y.version);
  const lastSent = sent.at(-1);

  if (a.status === 'resolved') {
    if (!lastSent) return { action: 'skip', detail: 'resolved before this receiver was told about it' };
    const last = facts(lastSent.version);
    if (last?.status === 'resolved') return { action: 'skip', detail: `resolution already sent as v${lastSent.version}` };
    return { action: 'send', reason: 'resolved' };
  }

  if (!lastSent) return { action: 'send', reason: 'new' };
  const last = facts(lastSent.version);
  if (!last) return { action: 'send', reason: 'updated' };
  if (last.status === 'resolved') return { action: 'send', reason: 'new' };
  if (SEVERITY_RANK[a.severity] > SEVERITY_RANK[last.severity]) return { action: 'send', reason: 'escalated' };

  const grewEnough = a.impact_usd >= last.impact_usd * policy.impactFactor && a.impact_usd - last.impact_usd >= policy.minImpactIncreaseUsd;
  if (SEVERITY_RANK[a.severity] === SEVERITY_RANK[last.severity] && grewEnough) {
    if (policy.sendGrowth === false)
      return { action: 'skip', detail: `grew to ${formatUsd(a.impact_usd)} at ${a.severity}: this channel is sent only what pages` };
    return { action: 'send', reason: 'grown' };
  }

  const change =
    SEVERITY_RANK[a.severity] < SEVERITY_RANK[last.severity]
      ? `severity fell to ${a.severity}`
      : `still ${a.severity}, impact ${formatUsd(a.impact_usd)} (was ${formatUsd(last.impact_usd)})`;
  return { action: 'skip', detail: `no change a human needs since v${lastSent.version}: ${change}` };
}

/**
 * Whether this version of an anomaly needs a human at one receiver, from what that receiver has
 * already been sent. What needs a human:
 *   - the first version it sees of an episode (`new`);
 *   - a higher severity than the last version it was sent (`escalated`: a critical notifies again);
 *   - an impact that has at least doubled (and grown by $10+) since the last message (`grown`);
 *   - the end of an episode it was told about (`resolved`, a short note, once).
 * Everything else — an impact that grew a little at the same severity, a lower severity, a
 * resolution of something it never heard of, a version older than one it already has — is
 * recorded as skipped with the reason. When the last sent version's facts are unknown (neither
 * seen by this process nor in the store) it sends (`updated`): a redundant message beats a missed one.
 *
 * A version whose latest record is `pending` (a send began and its outcome was never recorded)
 * is sent, whatever happened since: the notifier then asks the channel whether that attempt got
 * through before sending, so what arrived is recorded as sent.
 *
 * `history` holds this receiver's delivery records for this anomaly id (latest per version).
 */
export function decide(
  a: Anomaly,
  history: readonly DeliveryRecord[],
  facts: (version: number) => VersionFacts | undefined,
  policy: RenotifyPolicy = DEFAULT_RENOTIFY,
): Decision {
  const decision = decideAfresh(a, history, facts, policy);
  // A send of this very version began and its outcome was never recorded (a kill between the
  // provider's answer and the record): it goes to the channel, which is asked whether it got
  // through and sends again only if not. Recorded as skipped, a message that may have reached
  // the receiver would be logged as never sent.
  if (decision.action !== 'skip' || history.find((d) => d.version === a.version)?.status !== 'pending') return decision;
  return { action: 'send', reason: pendingReason(a, history) };
}

/** Why a version whose send began before a restart is sent (or reconciled): a resolution, an update to a receiver told before, or news. */
export function pendingReason(a: Anomaly, history: readonly DeliveryRecord[]): NotificationReason {
  if (a.status === 'resolved') return 'resolved';
  return history.some((d) => d.status === 'sent' && d.version < a.version) ? 'updated' : 'new';
}
