import type { Anomaly } from '@burnrate/schemas';
import type { SlackStandIn } from '@burnrate/testing';

/** `id@version` of every anomaly version Slack accepted a message for, from the message metadata Burnrate attaches. */
export function slackDeliveries(slack: SlackStandIn): string[] {
  return slack
    .callsTo('chat.postMessage')
    .filter((c) => c.status === 200 && c.error === undefined)
    .map((c) => {
      const payload = (c.args.metadata as { event_payload?: { anomaly_id?: unknown; version?: unknown } } | undefined)?.event_payload;
      return `${String(payload?.anomaly_id)}@${String(payload?.version)}`;
    });
}

export function versionKeys(anomalies: readonly Anomaly[]): string[] {
  return anomalies.map((a) => `${a.id}@${a.version}`);
}
