import { type FileHandle, mkdir, open, readdir, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { OutgoingMessage, Producer } from '@burnrate/bus';
import type { Logger } from '@burnrate/core';
import { type EventLedger, type IngestCore, toDlqRecord, type Verdict } from '@burnrate/ingest';
import { type DlqRecord, TOPICS, type UsageEvent } from '@burnrate/schemas';

/**
 * Restarts that lose nothing. Claude Code's exporter does not retry a refused export, so a
 * successor `burnrate start` takes the receivers' ports while its predecessor still holds the data
 * directory (SO_REUSEPORT), and accepts exports into a spool file of its own: each is answered 2xx
 * once it is written and fdatasynced there, as the bus log would be. When the predecessor has let
 * go and the store and bus are open, the spool is published through the dedupe ledger (a resend
 * of what the predecessor accepted is a duplicate) and removed. A spool left by a successor that
 * died meanwhile is published by the next start.
 */
export const SPOOL_DIR = 'handover';

interface SpoolRecord {
  topic: string;
  messages: readonly OutgoingMessage[];
}

export interface HandoverSpool extends Producer {
  readonly path: string;
  /** Resolves once every send begun so far is written or has failed. */
  idle(): Promise<void>;
  close(): Promise<void>;
}

/**
 * A Producer onto `<dataDir>/handover/spool-<pid>.ndjson`: one JSON line per send; sends that
 * arrive while a write is in flight go together in the next write and fdatasync (group commit).
 * A send resolves only once its line is on disk; a write that fails (a full disk) fails the sends
 * it held, so their senders get a retriable error, and the torn tail it may leave is skipped when read.
 */
export async function createHandoverSpool(dataDir: string): Promise<HandoverSpool> {
  const dir = join(dataDir, SPOOL_DIR);
  await mkdir(dir, { recursive: true });
  const path = join(dir, `spool-${process.pid}.ndjson`);
  const file: FileHandle = await open(path, 'a');
  let queued: { line: string; resolve: () => void; reject: (err: unknown) => void }[] = [];
  let writing: Promise<void> | undefined;

  const flush = async (): Promise<void> => {
    while (queued.length > 0) {
      const batch = queued;
      queued = [];
      try {
        await file.appendFile(batch.map((b) => b.line).join(''));
        await file.datasync();
        for (const b of batch) b.resolve();
      } catch (err) {
        for (const b of batch) b.reject(err);
      }
    }
    writing = undefined;
  };

  return {
    path,
    send: (topic, messages) =>
      new Promise<void>((resolve, reject) => {
        queued.push({ line: `${JSON.stringify({ topic, messages } satisfies SpoolRecord)}\n`, resolve, reject });
        writing ??= flush();
      }),
    idle: async () => {
      while (writing !== undefined) await writing;
    },
    close: () => file.close(),
  };
}

/** Every complete record of a spool file; a torn last line (a write cut short) is not one. */
async function readSpool(path: string, log: Logger): Promise<SpoolRecord[]> {
  const lines = (await readFile(path, 'utf8')).split('\n');
  const records: SpoolRecord[] = [];
  lines.forEach((line, i) => {
    if (line === '') return;
    try {
      records.push(JSON.parse(line) as SpoolRecord);
    } catch {
      // Only the last line can be torn, and its send was never answered.
      if (i !== lines.length - 1) log.error({ path, line: i + 1 }, 'handover spool line is not JSON; skipped');
    }
  });
  return records;
}

export interface DrainStats {
  files: number;
  events: number;
  duplicates: number;
  conflicts: number;
  rejected: number;
}

/**
 * Publishes every spool in `<dataDir>/handover` through `ingest` (the live producer and ledger),
 * then removes it: as ingest would have, events the ledger already holds (the predecessor
 * accepted them too) are duplicates and dropped, and an id reused with other content is
 * dead-lettered; dead letters pass as they are.
 */
export async function drainSpools(
  dataDir: string,
  target: { ingest: Pick<IngestCore, 'publishChecked'>; producer: Producer; log: Logger },
): Promise<DrainStats> {
  const dir = join(dataDir, SPOOL_DIR);
  const stats: DrainStats = { files: 0, events: 0, duplicates: 0, conflicts: 0, rejected: 0 };
  let names: string[];
  try {
    names = (await readdir(dir)).filter((n) => n.startsWith('spool-') && n.endsWith('.ndjson')).sort();
  } catch (err) {
    if ((err as { code?: unknown }).code === 'ENOENT') return stats;
    throw err;
  }
  for (const name of names) {
    const path = join(dir, name);
    for (const record of await readSpool(path, target.log)) {
      if (record.topic !== TOPICS.usageEvents.name) {
        if (record.topic === TOPICS.usageDlq.name) stats.rejected += record.messages.length;
        await target.producer.send(record.topic, record.messages);
        continue;
      }
      const events = record.messages.map((m) => JSON.parse(m.value) as UsageEvent);
      const dlq: DlqRecord[] = [];
      const verdicts = await target.ingest.publishChecked(events, dlq, (event, _index, issue) => {
        dlq.push(
          toDlqRecord({ source: event.source, issues: [issue], raw: JSON.stringify(event), receivedAt: new Date(event.ingested_at) }),
        );
      });
      for (const verdict of verdicts) {
        if (verdict.kind === 'new') stats.events += 1;
        else if (verdict.kind === 'duplicate') stats.duplicates += 1;
        else stats.conflicts += 1;
      }
    }
    await rm(path, { force: true });
    stats.files += 1;
  }
  return stats;
}

/** The producer and ledger the receivers use, spooling until the process goes live. */
export interface HandoverIngest {
  producer: Producer;
  ledger: EventLedger;
  /**
   * Goes live: new requests wait while the requests that reserved ids in the spool's ledger
   * finish, `drain` publishes the spool, and then every request uses `live`. Requests wait for
   * as long as the drain takes (the spool holds seconds of exports).
   */
  goLive(live: { producer: Producer; ledger: EventLedger }, drain: () => Promise<DrainStats>): Promise<DrainStats>;
}

/** The receivers' producer and ledger, starting on `spool` and a ledger of its own (`spoolLedger`). */
export function handoverIngest(spool: HandoverSpool, spoolLedger: EventLedger): HandoverIngest {
  let producer: Producer = spool;
  let ledger = spoolLedger;
  let paused: Promise<void> | undefined;
  // Requests between reserve and settle on the spool's ledger: their sends go to the spool.
  let inFlight = 0;
  let allSettled: (() => void) | undefined;
  const reservedBy = new WeakMap<readonly Verdict[], EventLedger>();

  const settledOne = (): void => {
    inFlight -= 1;
    if (inFlight === 0) allSettled?.();
  };

  return {
    producer: { send: (topic, messages) => producer.send(topic, messages) },
    ledger: {
      reserve: async (entries) => {
        while (paused !== undefined) await paused;
        const by = ledger;
        if (by === spoolLedger) inFlight += 1;
        let verdicts: Verdict[];
        try {
          verdicts = await by.reserve(entries);
        } catch (err) {
          if (by === spoolLedger) settledOne();
          throw err;
        }
        reservedBy.set(verdicts, by);
        return verdicts;
      },
      settle: (entries, verdicts, published) => {
        const by = reservedBy.get(verdicts) ?? ledger;
        by.settle(entries, verdicts, published);
        if (by === spoolLedger) settledOne();
      },
      remember: (entry, acceptedAtMs) => ledger.remember(entry, acceptedAtMs),
      stats: () => ledger.stats(),
    },
    goLive: async (live, drain) => {
      let resume = (): void => {};
      paused = new Promise((resolve) => (resume = resolve));
      try {
        if (inFlight > 0) await new Promise<void>((resolve) => (allSettled = resolve));
        await spool.idle();
        await spool.close();
        const stats = await drain();
        producer = live.producer;
        ledger = live.ledger;
        return stats;
      } finally {
        paused = undefined;
        resume();
      }
    },
  };
}
