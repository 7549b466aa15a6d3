import type { Clock, Config, Logger } from '@burnrate/core';
import type { Anomaly } from '@burnrate/schemas';
import type { OutboxEntry, Store } from '@burnrate/store';
import { escalationSteps } from './escalation.ts';
import { groupTargets } from './routing.ts';

const iso = (ms: number): string => new Date(ms).toISOString();

/**
 * Queues the escalations of a critical that just reached its team (escalation.ts says when and
 * to whom), once per anomaly: each is looked at again when due and cancelled if anyone
 * acknowledged, snoozed or resolved it by then.
 */
export async function queueEscalations(
  deps: { store: Pick<Store, 'listOutbox' | 'upsertOutbox'>; config: Config; clock: Clock; log: Logger },
  a: Anomaly,
  sentTo: OutboxEntry,
  sentAtMs: number,
): Promise<void> {
  const existing = await deps.store.listOutbox({ anomaly_id: a.id });
  if (existing.some((e) => e.purpose === 'escalate')) return;
  const entries: OutboxEntry[] = [];
  for (const step of escalationSteps(deps.config, a, sentAtMs)) {
    for (const t of groupTargets(deps.config, a, step.to)) {
      if (t.receiver === sentTo.receiver) continue;
      entries.push({
        anomaly_id: a.id,
        version: a.version,
        receiver: t.receiver,
        purpose: 'escalate',
        channel: t.channel,
        recipients: t.to,
        via: step.to,
        group_key: `escalate:${a.id}:${t.receiver}`,
        part: sentTo.part,
        due_at: iso(step.dueMs),
        status: 'queued',
        attempts: 0,
        detail: `escalate to ${step.to} unless acknowledged`,
        updated_at: deps.clock.now().toISOString(),
      });
    }
  }
  if (entries.length > 0) {
    await deps.store.upsertOutbox(entries);
    deps.log.info({ anomalyId: a.id, escalations: entries.map((e) => ({ receiver: e.receiver, due: e.due_at })) }, 'escalation scheduled');
  }
}

/**
 * The reminder rows for what was just sent: every open anomaly a receiver was told about is
 * brought up again every repeat_interval until someone acknowledges, snoozes or resolves it, or
 * the episode ends — one row per anomaly and receiver (version 0), moved on each time.
 */
export function reminderEntries(sent: readonly { entry: OutboxEntry; anomaly: Anomaly }[], now: Date, repeatMs: number): OutboxEntry[] {
  return sent
    .filter((r) => r.entry.purpose === 'notify' && r.anomaly.status === 'open')
    .map((r) => ({
      ...r.entry,
      version: 0,
      purpose: 'reminder' as const,
      group_key: `reminder:${r.entry.receiver}:${r.anomaly.id}`,
      due_at: iso(now.getTime() + repeatMs),
      status: 'queued' as const,
      attempts: 0,
      detail: 'remind unless acknowledged',
      updated_at: now.toISOString(),
    }));
}
