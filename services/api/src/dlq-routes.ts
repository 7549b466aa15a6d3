import { BurnrateError, type Clock, jsonResponse, type Route } from '@burnrate/core';
import type { DlqRecord } from '@burnrate/schemas';
import type { DlqReplay, Store } from '@burnrate/store';
import { API_IDENTITY, authorize, describeValue, invalidField, optionalText, readJsonObject, refuseUnknownFields } from './request.ts';
import { sinceOf } from './report-routes.ts';

export type DlqRoutesStore = Pick<Store, 'listDlq' | 'insertDlqReplays' | 'firstDlqReplays'>;

/** A record to replay: the DLQ entry it fixes, and the record as it is to be ingested now. */
export interface ReplayItem {
  entry: DlqRecord;
  record: unknown;
}

/** What ingest made of a replayed record. */
export type ReplayResult =
  { outcome: 'accepted' | 'duplicate'; event_id: string } | { outcome: 'rejected'; issues: { field: string; message: string }[] };

/**
 * Ingest's check-and-publish, as the replay route needs it (services/ingest implements it): each
 * record validated as its source's receiver would, deduplicated against what ingest accepted,
 * published; resolves once what was accepted is durable on the bus.
 */
export interface DlqReplayer {
  replay(items: readonly ReplayItem[]): Promise<ReplayResult[]>;
}

export interface DlqRoutesDeps {
  store: DlqRoutesStore;
  clock: Clock;
  apiToken?: string | undefined;
  /** Absent in a process without ingest: the replay route is then not served. */
  replayer?: DlqReplayer | undefined;
}

/** One DLQ record as the view lists it: the record, and its first replay if it was replayed. */
export interface DlqEntry extends DlqRecord {
  replayed: DlqReplay | null;
}

export interface DlqPage {
  records: DlqEntry[];
  /** Pass as `after` for the next page; null on the last one. */
  next: string | null;
}

/** One replayed record in the answer of POST /api/dlq/replay. */
export type ReplayAnswer = { dlq_id: string } & ReplayResult;

export interface ReplayResponse {
  accepted: number;
  duplicates: number;
  rejected: number;
  results: ReplayAnswer[];
  error?: { code: 'INPUT_INVALID'; message: string; retriable: false };
}

const LIST_PARAMS = ['source', 'reason', 'since', 'limit', 'after'];
const DEFAULT_LIMIT = 100;
const MAX_LIMIT = 1000;
/** Records in one replay: a day's rejects of a misconfigured sender, fixed in one file. */
const MAX_REPLAY = 1000;
/** A replay carries fixed records, which may be as large as what /v1/events takes. */
const REPLAY_BODY_LIMIT_BYTES = 5 * 1024 * 1024;

/** GET /api/dlq (the dead-letter view) and POST /api/dlq/replay. */
export function dlqRoutes(deps: DlqRoutesDeps): Route[] {
  const routes: Route[] = [
    {
      method: 'GET',
      path: '/api/dlq',
      handler: async (req) => {
        authorize(req, deps.apiToken);
        for (const name of req.query.keys()) {
          if (!LIST_PARAMS.includes(name))
            throw invalidField(name, `is not a parameter of GET /api/dlq; it takes ${LIST_PARAMS.join(', ')}`);
        }
        const q = req.query;
        const limit = limitOf(q.get('limit'));
        const text = (name: string): string | undefined => {
          const value = q.get(name);
          if (value === null) return undefined;
          if (value.trim() === '') throw invalidField(name, 'must not be empty');
          return value;
        };
        const since = text('since');
        const after = text('after');
        const source = text('source');
        const reason = text('reason');
        const records = await deps.store.listDlq({
          limit,
          ...(source !== undefined ? { source } : {}),
          ...(reason !== undefined ? { reason } : {}),
          ...(since !== undefined ? { since: sinceOf(since, deps.clock.now()).toISOString() } : {}),
          ...(after !== undefined ? { after: decodeCursor(after) } : {}),
        });
        const replays = await deps.store.firstDlqReplays(records.map((r) => r.dlq_id));
        const last = records.at(-1);
        const page: DlqPage = {
          records: records.map((r) => ({ ...r, replayed: replays.get(r.dlq_id) ?? null })),
          next: records.length === limit && last !== undefined ? encodeCursor(last) : null,
        };
        return jsonResponse(200, page);
      },
    },
  ];
  const replayer = deps.replayer;
  if (replayer === undefined) return routes;
  routes.push({
    method: 'POST',
    path: '/api/dlq/replay',
    handler: async (req) => {
      authorize(req, deps.apiToken);
      const body = await readJsonObject(req, REPLAY_BODY_LIMIT_BYTES);
      refuseUnknownFields(body, ['ids', 'records', 'by'], 'POST /api/dlq/replay');
      const by = optionalText(body, 'by', 200) ?? API_IDENTITY;
      const wanted = replayRequest(body);
      const found = await deps.store.listDlq({ ids: wanted.map((w) => w.dlq_id), limit: wanted.length });
      const entries = new Map(found.map((r) => [r.dlq_id, r]));
      const unknown = wanted.filter((w) => !entries.has(w.dlq_id)).map((w) => w.dlq_id);
      if (unknown.length > 0) {
        throw new BurnrateError(
          'NOT_FOUND',
          `no DLQ record ${unknown.slice(0, 10).join(', ')}${unknown.length > 10 ? ` and ${unknown.length - 10} more` : ''}; nothing was replayed (GET /api/dlq lists them)`,
          { details: { unknown: unknown.slice(0, 100) } },
        );
      }
      const items: ReplayItem[] = [];
      const results: (ReplayAnswer | undefined)[] = [];
      for (const w of wanted) {
        const entry = entries.get(w.dlq_id) as DlqRecord;
        const record = 'record' in w ? { ok: true as const, value: w.record } : storedRecord(entry);
        if (!record.ok) {
          results.push({ dlq_id: w.dlq_id, outcome: 'rejected', issues: [{ field: '(record)', message: record.message }] });
          continue;
        }
        results.push(undefined);
        items.push({ entry, record: record.value });
      }
      const replayed = await replayer.replay(items);
      let next = 0;
      const answers = results.map(
        (r, i): ReplayAnswer => r ?? { dlq_id: (wanted[i] as { dlq_id: string }).dlq_id, ...(replayed[next++] as ReplayResult) },
      );
      const replayedAt = deps.clock.now().toISOString();
      await deps.store.insertDlqReplays(
        answers.flatMap((a): DlqReplay[] =>
          a.outcome === 'rejected'
            ? []
            : [{ dlq_id: a.dlq_id, replayed_at: replayedAt, event_id: a.event_id, outcome: a.outcome, replayed_by: by }],
        ),
      );
      const count = (outcome: ReplayResult['outcome']): number => answers.filter((a) => a.outcome === outcome).length;
      const response: ReplayResponse = {
        accepted: count('accepted'),
        duplicates: count('duplicate'),
        rejected: count('rejected'),
        results: answers,
      };
      if (response.rejected === 0) return jsonResponse(200, response);
      // 400 as /v1/events answers a batch with bad records: the good ones are already in.
      response.error = {
        code: 'INPUT_INVALID',
        message: `${response.rejected} of ${answers.length} records were rejected again (see results); ${response.accepted + response.duplicates} were taken`,
        retriable: false,
      };
      return jsonResponse(400, response);
    },
  });
  return routes;
}

type Wanted = { dlq_id: string } | { dlq_id: string; record: unknown };

/** `ids` (replay as stored) and `records` (`{dlq_id, record}`: fixed), each DLQ record at most once. */
function replayRequest(body: Record<string, unknown>): Wanted[] {
  const wanted: Wanted[] = [];
  const { ids, records } = body;
  if (ids !== undefined) {
    if (!Array.isArray(ids)) throw invalidField('ids', `must be an array of DLQ record ids, not ${describeValue(ids)}`);
    ids.forEach((id, i) => {
      if (typeof id !== 'string' || id.trim() === '') throw invalidField(`ids[${i}]`, `must be a DLQ record id, not ${describeValue(id)}`);
      wanted.push({ dlq_id: id });
    });
  }
  if (records !== undefined) {
    if (!Array.isArray(records))
      throw invalidField('records', `must be an array of {"dlq_id":…,"record":{…}}, not ${describeValue(records)}`);
    records.forEach((item: unknown, i) => {
      if (item === null || typeof item !== 'object' || Array.isArray(item)) {
        throw invalidField(`records[${i}]`, `must be an object {"dlq_id":…,"record":{…}}, not ${describeValue(item)}`);
      }
      const { dlq_id: id, record } = item as Record<string, unknown>;
      if (typeof id !== 'string' || id.trim() === '')
        throw invalidField(`records[${i}].dlq_id`, `must be a DLQ record id, not ${describeValue(id)}`);
      if (record === undefined)
        throw invalidField(`records[${i}].record`, 'is missing: the fixed record to ingest in place of the rejected one');
      wanted.push({ dlq_id: id, record });
    });
  }
  if (wanted.length === 0)
    throw new BurnrateError('INPUT_INVALID', 'give ids (replay records as stored) or records ({"dlq_id","record"}: fixed ones)');
  if (wanted.length > MAX_REPLAY)
    throw new BurnrateError('INPUT_TOO_LARGE', `${wanted.length} records to replay; at most ${MAX_REPLAY} per request`);
  const seen = new Set<string>();
  for (const w of wanted) {
    if (seen.has(w.dlq_id)) throw invalidField('ids', `names ${w.dlq_id} more than once; replay each DLQ record once per request`);
    seen.add(w.dlq_id);
  }
  return wanted;
}

/** The stored raw text as JSON; one that never was JSON has to be fixed first. */
function storedRecord(entry: DlqRecord): { ok: true; value: unknown } | { ok: false; message: string } {
  try {
    return { ok: true, value: JSON.parse(entry.raw) };
  } catch {
    return { ok: false, message: 'the stored record is not JSON; fix it and replay it as a record (burnrate dlq replay --file)' };
  }
}

function limitOf(text: string | null): number {
  if (text === null) return DEFAULT_LIMIT;
  const n = Number(text);
  if (!/^\d+$/.test(text) || n < 1 || n > MAX_LIMIT)
    throw invalidField('limit', `must be a whole number from 1 to ${MAX_LIMIT}, not ${JSON.stringify(text)}`);
  return n;
}

/** The page cursor: the last record's place in the list's order, opaque to clients. */
function encodeCursor(r: DlqRecord): string {
  return Buffer.from(JSON.stringify([r.received_at, r.dlq_id])).toString('base64url');
}

function decodeCursor(text: string): { received_at: string; dlq_id: string } {
  try {
    const value: unknown = JSON.parse(Buffer.from(text, 'base64url').toString('utf8'));
    if (
      Array.isArray(value) &&
      value.length === 2 &&
      typeof value[0] === 'string' &&
      typeof value[1] === 'string' &&
      !Number.isNaN(Date.parse(value[0]))
    ) {
      return { received_at: value[0], dlq_id: value[1] };
    }
  } catch {
    // Answered below.
  }
  throw invalidField('after', "must be the `next` of a previous page's answer");
}
