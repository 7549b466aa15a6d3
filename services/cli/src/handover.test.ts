import { appendFile, mkdir, readdir, symlink } from 'node:fs/promises';
import { join } from 'node:path';
import type { OutgoingMessage, Producer } from '@burnrate/bus';
import { createLogger, fixedConfig, parseConfig, systemClock } from '@burnrate/core';
import { createEventLedger, createIngestCore, createIngestGate, type EventLedger } from '@burnrate/ingest';
import { TOPICS, type UsageEvent, usageEventKey } from '@burnrate/schemas';
import { tempDir, usageEvent } from '@burnrate/testing';
import { describe, expect, it } from 'vitest';
import { createHandoverSpool, drainSpools, handoverIngest, SPOOL_DIR } from './handover.ts';

const log = createLogger({ level: 'silent' });
const ledgerAt = () => createEventLedger({ windowMs: 3_600_000, now: () => Date.parse('2026-12-07T10:00:00Z') });

function recorder(): Producer & { sent: { topic: string; messages: readonly OutgoingMessage[] }[]; events(): UsageEvent[] } {
  const sent: { topic: string; messages: readonly OutgoingMessage[] }[] = [];
  return {
    sent,
    send: (topic, messages) => {
      sent.push({ topic, messages });
      return Promise.resolve();
    },
    events: () =>
      sent.filter((s) => s.topic === TOPICS.usageEvents.name).flatMap((s) => s.messages.map((m) => JSON.parse(m.value) as UsageEvent)),
  };
}

const config = fixedConfig(parseConfig('org: acme\ningest: { auth: none }\n'));

/** What publishes a drained spool: ingest's own check-and-publish, over `producer` and `ledger`. */
const ingestOver = (producer: Producer, ledger: EventLedger) =>
  createIngestCore({ config, producer, ledger, clock: systemClock, log, gate: createIngestGate({ config, now: Date.now, log }) });

const asMessages = (events: readonly UsageEvent[]): OutgoingMessage[] =>
  events.map((e) => ({ key: usageEventKey(e), value: JSON.stringify(e) }));

describe('the handover spool', () => {
  it('keeps every answered send, skips a torn tail, and publishes through the ledger: resends are dropped, reused ids dead-lettered', async () => {
    await using dir = await tempDir();
    const spool = await createHandoverSpool(dir.path);
    const a = usageEvent({ event_id: 'a', fingerprint: 'fa' });
    const b = usageEvent({ event_id: 'b', fingerprint: 'fb' });
    const c = usageEvent({ event_id: 'c', fingerprint: 'fc' });
    // Concurrent sends share one write.
    await Promise.all([spool.send(TOPICS.usageEvents.name, asMessages([a, b])), spool.send(TOPICS.usageEvents.name, asMessages([c]))]);
    await spool.send(TOPICS.usageDlq.name, [{ key: 'otlp', value: '{"dlq_id":"x"}' }]);
    await spool.close();
    // A write cut short by a crash: never answered, so not a record.
    await appendFile(spool.path, '{"topic":"usage.events.v1","messages":[{"key":');

    // The predecessor had accepted `a` as it is, and `b` with other content.
    const ledger = ledgerAt();
    ledger.remember({ event_id: 'a', fingerprint: 'fa' }, Date.parse('2026-12-07T09:59:00Z'));
    ledger.remember({ event_id: 'b', fingerprint: 'other' }, Date.parse('2026-12-07T09:59:00Z'));
    const producer = recorder();
    const stats = await drainSpools(dir.path, { ingest: ingestOver(producer, ledger), producer, log });
    expect(stats).toEqual({ files: 1, events: 1, duplicates: 1, conflicts: 1, rejected: 1 });
    expect(producer.events().map((e) => e.event_id)).toEqual(['c']);
    const dlq = producer.sent.filter((s) => s.topic === TOPICS.usageDlq.name).flatMap((s) => s.messages.map((m) => m.value));
    expect(dlq).toHaveLength(2);
    expect(dlq.some((v) => v.includes('b was already accepted with other content'))).toBe(true);
    expect(await readdir(join(dir.path, SPOOL_DIR))).toEqual([]);
    // Published ids are the ledger's now: a later resend is a duplicate.
    expect(await ledger.reserve([{ event_id: 'c', fingerprint: 'fc' }])).toEqual([{ kind: 'duplicate' }]);
  });

  it('fails the sends a write could not keep (a full disk), answers every one of them, and takes the next write again', async () => {
    await using dir = await tempDir();
    // The spool file is /dev/full: every write fails with ENOSPC.
    await mkdir(join(dir.path, SPOOL_DIR));
    await symlink('/dev/full', join(dir.path, SPOOL_DIR, `spool-${process.pid}.ndjson`));
    const spool = await createHandoverSpool(dir.path);
    const sends = [1, 2, 3].map((n) => spool.send(TOPICS.usageEvents.name, asMessages([usageEvent({ event_id: `full-${n}` })])));
    const results = await Promise.allSettled(sends);
    expect(results.map((r) => r.status)).toEqual(['rejected', 'rejected', 'rejected']);
    expect((results[0] as PromiseRejectedResult).reason).toMatchObject({ code: 'ENOSPC' });
    await expect(spool.send(TOPICS.usageEvents.name, asMessages([usageEvent({ event_id: 'full-4' })]))).rejects.toMatchObject({
      code: 'ENOSPC',
    });
    await spool.idle();
    await spool.close();
  });

  it('is nothing to publish when there is none', async () => {
    await using dir = await tempDir();
    const producer = recorder();
    expect(await drainSpools(dir.path, { ingest: ingestOver(producer, ledgerAt()), producer, log })).toEqual({
      files: 0,
      events: 0,
      duplicates: 0,
      conflicts: 0,
      rejected: 0,
    });
  });
});

describe('handoverIngest', () => {
  it('spools until it goes live, holds new requests while the spool drains, then publishes live', async () => {
    await using dir = await tempDir();
    const spool = await createHandoverSpool(dir.path);
    const ingest = handoverIngest(spool, ledgerAt());
    const early = usageEvent({ event_id: 'early', fingerprint: 'f1' });
    const entries = [{ event_id: 'early', fingerprint: 'f1' }];
    const verdicts = await ingest.ledger.reserve(entries);
    expect(verdicts).toEqual([{ kind: 'new' }]);

    const live = recorder();
    const liveLedger = ledgerAt();
    const order: string[] = [];
    const going = ingest.goLive({ producer: live, ledger: liveLedger }, async () => {
      order.push('drain');
      return drainSpools(dir.path, { ingest: ingestOver(live, liveLedger), producer: live, log });
    });
    // A request that arrives now waits for the drain.
    const later = ingest.ledger.reserve([{ event_id: 'later', fingerprint: 'f2' }]).then((v) => {
      order.push('later reserved');
      return v;
    });
    // The request already in flight finishes into the spool first.
    await ingest.producer.send(TOPICS.usageEvents.name, asMessages([early]));
    ingest.ledger.settle(entries, verdicts, true);
    expect(await going).toMatchObject({ files: 1, events: 1 });
    expect(await later).toEqual([{ kind: 'new' }]);
    expect(order).toEqual(['drain', 'later reserved']);
    await ingest.producer.send(TOPICS.usageEvents.name, asMessages([usageEvent({ event_id: 'later', fingerprint: 'f2' })]));
    expect(live.events().map((e) => e.event_id)).toEqual(['early', 'later']);
    // The live ledger knows what came through the spool.
    expect(await ingest.ledger.reserve(entries)).toEqual([{ kind: 'duplicate' }]);
  });
});
