import { randomUUID } from 'node:crypto';
import { BurnrateError, type Clock, type Logger, jsonResponse, parseDuration, type Route } from '@burnrate/core';
import { Instant, parseSilenceMatcher, Silence, SilenceMatcher } from '@burnrate/schemas';
import type { Store } from '@burnrate/store';
import { API_IDENTITY, authorize, describeValue, invalidField, optionalText, readJsonObject, refuseUnknownFields } from './request.ts';

export type SilenceRoutesStore = Pick<Store, 'insertSilences' | 'listSilences'>;

export interface SilenceRoutesDeps {
  store: SilenceRoutesStore;
  clock: Clock;
  log: Logger;
  apiToken?: string | undefined;
}

/** Where a silence stands at an instant. */
export type SilenceState = 'pending' | 'active' | 'expired';
export type SilenceEntry = Silence & { state: SilenceState };

const SILENCE_FIELDS = ['matchers', 'starts_at', 'ends_at', 'for', 'created_by', 'comment'];
const LIST_STATES = ['active', 'pending', 'expired', 'all'] as const;

export function silenceState(s: Pick<Silence, 'starts_at' | 'ends_at'>, now: Date): SilenceState {
  if (Date.parse(s.ends_at) <= now.getTime()) return 'expired';
  return Date.parse(s.starts_at) > now.getTime() ? 'pending' : 'active';
}

/** POST /api/silences, GET /api/silences, DELETE /api/silences/:id (expire now). */
export function silenceRoutes(deps: SilenceRoutesDeps): Route[] {
  const entry = (s: Silence, now: Date): SilenceEntry => ({ ...s, state: silenceState(s, now) });
  return [
    {
      method: 'POST',
      path: '/api/silences',
      handler: async (req) => {
        authorize(req, deps.apiToken);
        const now = deps.clock.now();
        const silence = silenceFromBody(await readJsonObject(req), now);
        await deps.store.insertSilences([silence]);
        deps.log.info(
          { silenceId: silence.id, by: silence.created_by, matchers: silence.matchers, ends_at: silence.ends_at },
          'silence added',
        );
        return jsonResponse(201, { silence: entry(silence, now) });
      },
    },
    {
      method: 'GET',
      path: '/api/silences',
      handler: async (req) => {
        authorize(req, deps.apiToken);
        for (const name of req.query.keys()) {
          if (name !== 'state') throw invalidField(name, 'is not a filter of GET /api/silences; it takes state');
        }
        const wanted = req.query.get('state');
        if (wanted !== null && !(LIST_STATES as readonly string[]).includes(wanted)) {
          throw invalidField('state', `must be one of ${LIST_STATES.join(', ')}, not ${JSON.stringify(wanted)}`);
        }
        const now = deps.clock.now();
        const silences = (await deps.store.listSilences())
          .map((s) => entry(s, now))
          // By default what still has an effect: active, and pending (starts later).
          .filter((s) => (wanted === null ? s.state !== 'expired' : wanted === 'all' || s.state === wanted));
        return jsonResponse(200, { silences });
      },
    },
    {
      method: 'DELETE',
      path: '/api/silences/:id',
      handler: async (req) => {
        authorize(req, deps.apiToken);
        const id = req.params.id ?? '';
        const now = deps.clock.now();
        const existing = (await deps.store.listSilences()).find((s) => s.id === id);
        if (!existing) throw new BurnrateError('NOT_FOUND', `no silence with id ${JSON.stringify(id)}`);
        if (silenceState(existing, now) === 'expired') return jsonResponse(200, { silence: entry(existing, now) });
        // A pending silence ends before it started: both bounds become now, so it is never active.
        const at = now.toISOString();
        const expired: Silence = { ...existing, ends_at: at, ...(Date.parse(existing.starts_at) > now.getTime() ? { starts_at: at } : {}) };
        await deps.store.insertSilences([expired]);
        deps.log.info({ silenceId: id }, 'silence expired');
        return jsonResponse(200, { silence: entry(expired, now) });
      },
    },
  ];
}

/**
 * `{ matchers, starts_at?, ends_at? | for?, created_by?, comment }`. Matchers are objects
 * (`{label, value, op?}`) or strings as people type them (`team=payments`, `kind!=spend_spike`).
 * `for` runs from starts_at (default now). Throws INPUT_INVALID naming the field.
 */
export function silenceFromBody(body: Record<string, unknown>, now: Date): Silence {
  refuseUnknownFields(body, SILENCE_FIELDS, 'POST /api/silences');
  const matchers = parseMatchers(body.matchers);
  const startsAt = body.starts_at === undefined ? now.getTime() : Date.parse(instant(body.starts_at, 'starts_at'));
  let endsAt: number;
  if (body.ends_at !== undefined && body.for !== undefined) throw invalidField('ends_at', 'and for cannot both be given');
  if (body.ends_at !== undefined) {
    endsAt = Date.parse(instant(body.ends_at, 'ends_at'));
    if (endsAt <= startsAt) throw invalidField('ends_at', `must be after starts_at (${new Date(startsAt).toISOString()})`);
  } else if (body.for !== undefined) {
    const ms = typeof body.for === 'string' ? parseDuration(body.for) : undefined;
    if (ms === undefined || ms <= 0) throw invalidField('for', `must be a duration such as 30m, 4h or 2d, not ${describeValue(body.for)}`);
    endsAt = startsAt + ms;
  } else {
    throw invalidField('ends_at', 'or for is needed: until when (an instant) or for how long (4h) the silence holds');
  }
  if (endsAt <= now.getTime()) throw invalidField(body.for === undefined ? 'ends_at' : 'for', `makes a silence that has already ended`);
  const comment = optionalText(body, 'comment', 2000);
  if (comment === undefined) throw invalidField('comment', 'is needed: say why, so the next person on call knows whether to keep it');
  return Silence.parse({
    id: randomUUID(),
    matchers,
    starts_at: new Date(startsAt).toISOString(),
    ends_at: new Date(endsAt).toISOString(),
    created_by: optionalText(body, 'created_by', 254) ?? API_IDENTITY,
    comment,
    created_at: now.toISOString(),
  });
}

function parseMatchers(value: unknown): SilenceMatcher[] {
  if (!Array.isArray(value) || value.length === 0) {
    throw invalidField(
      'matchers',
      'must be a non-empty array such as ["team=payments", "kind=session_cost"]: a silence without one would silence everything',
    );
  }
  if (value.length > 16) throw invalidField('matchers', `takes at most 16 matchers, not ${value.length}`);
  return value.map((m: unknown, i) => {
    const field = `matchers[${i}]`;
    if (typeof m === 'string') {
      try {
        return parseSilenceMatcher(m);
      } catch (err) {
        throw invalidField(field, (err as Error).message);
      }
    }
    const parsed = SilenceMatcher.safeParse(m);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      throw invalidField(field, `${issue?.path.join('.') || 'matcher'}: ${issue?.message ?? 'is not a matcher'}`);
    }
    return parsed.data;
  });
}

function instant(value: unknown, field: string): string {
  const parsed = Instant.safeParse(value);
  if (!parsed.success)
    throw invalidField(field, `must be an ISO-8601 instant with an offset such as 2026-11-28T09:00:00Z, not ${describeValue(value)}`);
  return parsed.data;
}
