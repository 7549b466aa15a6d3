import { afterEach, describe, expect, it } from 'vitest';
import { anomaly } from '@burnrate/testing/builders';
import { capturedIO, onCallApi, type OnCallApi } from '../test-support/on-call-api.ts';
import { anomaliesCommand } from './anomalies-command.ts';

let api: OnCallApi;
afterEach(async () => {
  await api?.close();
});

const run = async (argv: string[], env: { token?: string; user?: string; url?: string } = {}) => {
  const io = capturedIO();
  const code = await anomaliesCommand(argv, { user: 'bob@acme.com', ...env, fetch: api.fetch }, io);
  return { code, io };
};

async function seed(): Promise<void> {
  await api.store.insertAnomalies([
    anomaly({ id: 'a-new', detected_at: '2026-11-27T11:50:00.000Z', impact_usd: 1234.5, subject: { session: 'sess-9' } }),
    anomaly({
      id: 'a-old',
      version: 1,
      kind: 'spend_spike',
      severity: 'critical',
      detected_at: '2026-11-27T09:00:00.000Z',
      subject: { developer: undefined, session: undefined, model: undefined },
    }),
    anomaly({
      id: 'a-old',
      version: 2,
      kind: 'spend_spike',
      severity: 'critical',
      detected_at: '2026-11-27T11:00:00.000Z',
      subject: { developer: undefined, session: undefined, model: undefined },
    }),
  ]);
}

describe('burnrate anomalies list', () => {
  it('prints a table: where each stands, who acknowledged, since when', async () => {
    api = await onCallApi();
    await seed();
    expect((await run(['ack', 'a-old'])).code).toBe(0);
    const { code, io } = await run(['list']);
    expect(code).toBe(0);
    expect(io.stdout).toEqual([
      'ID     STATE                          SEVERITY  KIND          TEAM      SUBJECT                        IMPACT  FIRST SEEN',
      'a-new  open                           warning   session_cost  payments  alice@acme.com session sess-9  $1,235  2026-11-27 11:50Z',
      'a-old  acknowledged  by bob@acme.com  critical  spend_spike   payments  whole team                      $6.20  2026-11-27 09:00Z',
    ]);
  });

  it('marks what a backfill found, in the list and in show, and filters on it', async () => {
    api = await onCallApi();
    await seed();
    await api.store.insertAnomalies([
      anomaly({ id: 'a-found', historical: true, detected_at: '2026-10-28T10:00:00.000Z', subject: { session: 'sess-1' } }),
    ]);
    const listed = await run(['list', '--historical', 'true']);
    expect(listed.io.stdout).toEqual([
      'ID       STATE              SEVERITY  KIND          TEAM      SUBJECT                        IMPACT  FIRST SEEN',
      'a-found  open   historical  warning   session_cost  payments  alice@acme.com session sess-1   $6.20  2026-10-28 10:00Z',
    ]);
    const shown = await run(['show', 'a-found']);
    expect(shown.io.stdout[1]).toMatch(/^ {2}historical: found by a backfill .* never sent$/);
    expect((await run(['list', '--historical', 'false', '--json'])).io.text()).not.toContain('a-found');
  });

  it('passes the filters, prints JSON with --json, and says when nothing matches', async () => {
    api = await onCallApi();
    await seed();
    await run(['snooze', 'a-new', '--for', '2h']);
    const snoozed = await run(['list', '--state', 'snoozed', '--json']);
    expect(JSON.parse(snoozed.io.text())).toEqual([
      expect.objectContaining({ id: 'a-new', state: 'snoozed', snoozed_until: '2026-11-27T14:00:00.000Z' }),
    ]);
    const none = await run(['list', '--state', 'acknowledged', '--team', 'payments']);
    expect(none.io.stdout).toEqual(['no anomalies match state=acknowledged&team=payments']);
    const bad = await run(['list', '--state', 'closed']);
    expect(bad.code).toBe(1);
    expect(bad.io.stderr.join('\n')).toMatch(/state must be one of open, acknowledged, snoozed, resolved/);
  });
});

describe('burnrate anomalies show', () => {
  it('prints the anomaly, its evidence, versions, decisions and deliveries', async () => {
    api = await onCallApi();
    await seed();
    await run(['ack', 'a-old', '--note', 'batch job']);
    const { code, io } = await run(['show', 'a-old']);
    expect(code).toBe(0);
    const text = io.text();
    expect(io.stdout[0]).toBe('a-old  spend_spike  critical  acknowledged (by bob@acme.com)');
    expect(text).toMatch(/first detected 2026-11-27 09:00Z, version 2 at 2026-11-27 11:00Z/);
    expect(text).toMatch(/acknowledged by bob@acme.com at 2026-11-27 12:00Z/);
    expect(text).toMatch(/versions:\n\s+V\s+DETECTED.*\n\s+1\s+2026-11-27 09:00Z\s+critical\s+open.*\n\s+2\s+2026-11-27 11:00Z/);
    expect(text).toMatch(/decisions:\n.*\n\s+2026-11-27 12:00Z\s+acknowledged\s+bob@acme.com\s+cli\s+"batch job"/);
    expect(text).toMatch(/deliveries:\n\s+none/);
    const missing = await run(['show', 'nope']);
    expect(missing.code).toBe(1);
    expect(missing.io.stderr).toEqual(['no anomaly with id "nope"']);
  });
});

describe('burnrate anomalies ack|unack|snooze|resolve', () => {
  it('records each decision from the CLI, by BURNRATE_USER or --by, and goes on past an unknown id', async () => {
    api = await onCallApi();
    await seed();
    const ack = await run(['ack', 'a-new', 'nope', 'a-old']);
    expect(ack.code).toBe(1);
    expect(ack.io.stdout).toEqual(['a-new: acknowledged by bob@acme.com', 'a-old: acknowledged by bob@acme.com']);
    expect(ack.io.stderr).toEqual(['nope: no anomaly with id "nope"']);
    api.clock.advance(1000);
    expect((await run(['unack', 'a-new', '--by', 'carol@acme.com'])).io.stdout).toEqual(['a-new: unacknowledged by carol@acme.com']);
    api.clock.advance(1000);
    expect((await run(['snooze', 'a-new', '--until', '2026-11-28T09:00:00+01:00'])).io.stdout).toEqual([
      'a-new: snoozed until 2026-11-28 08:00Z by bob@acme.com',
    ]);
    api.clock.advance(1000);
    expect((await run(['resolve', 'a-old', '--reason', 'noise', '--note', 'weekly batch'])).io.stdout).toEqual([
      'a-old: resolved as noise by bob@acme.com',
    ]);
    const decisions = await api.store.listAnomalyStates({});
    expect(decisions.map((d) => [d.anomaly_id, d.action, d.by, d.channel])).toEqual([
      ['a-new', 'acknowledged', 'bob@acme.com', 'cli'],
      ['a-old', 'acknowledged', 'bob@acme.com', 'cli'],
      ['a-new', 'unacknowledged', 'carol@acme.com', 'cli'],
      ['a-new', 'snoozed', 'bob@acme.com', 'cli'],
      ['a-old', 'resolved', 'bob@acme.com', 'cli'],
    ]);
    expect(decisions.at(-1)).toMatchObject({ reason: 'noise', note: 'weekly batch' });
  });

  it('exits 2 with the usage for a command line that cannot be right, and records nothing', async () => {
    api = await onCallApi();
    await seed();
    const cases: [string[], RegExp][] = [
      [['ack'], /needs at least one anomaly id/],
      [['snooze', 'a-new'], /needs one of --for .* or --until/],
      [['snooze', 'a-new', '--for', '1h', '--until', '2026-11-28T09:00:00Z'], /needs one of --for/],
      [['resolve', 'a-new'], /needs --reason expected\|real\|noise/],
      [['ack', 'a-new', '--reason', 'noise'], /unknown flag --reason \(this command takes --note, --by, --help\)/],
      [['ack', 'a-new', '--note'], /--note needs a value/],
      [['close', 'a-new'], /unknown anomalies command "close"/],
      [['show'], /takes one anomaly id/],
    ];
    for (const [argv, message] of cases) {
      const { code, io } = await run(argv);
      expect(code, argv.join(' ')).toBe(2);
      expect(io.stderr.join('\n'), argv.join(' ')).toMatch(message);
      expect(io.stderr.join('\n')).toMatch(/usage:\n\s+burnrate anomalies list/);
    }
    expect(await api.store.listAnomalyStates({})).toEqual([]);
  });

  it('exits 1 with what the instance said for a bad value, once for all ids', async () => {
    api = await onCallApi();
    await seed();
    const bad = await run(['resolve', 'a-new', 'a-old', '--reason', 'bogus']);
    expect(bad.code).toBe(1);
    expect(bad.io.stderr).toEqual(['reason must be one of expected, real, noise, not "bogus"']);
    const past = await run(['snooze', 'a-new', '--until', '2026-11-27T11:00:00Z']);
    expect(past.io.stderr.join('\n')).toMatch(/until must be in the future/);
  });
});

describe('talking to the instance', () => {
  it('says what to do about the token: none given, or not the right one', async () => {
    api = await onCallApi({ apiToken: 'right-token' });
    await seed();
    const none = await run(['list']);
    expect(none.code).toBe(1);
    expect(none.io.stderr).toEqual([
      'Burnrate at http://127.0.0.1:8787 needs an API token: set BURNRATE_API_TOKEN to the one it was started with',
    ]);
    const wrong = await run(['ack', 'a-new'], { token: 'wrong-token' });
    expect(wrong.code).toBe(1);
    expect(wrong.io.stderr).toEqual([
      'Burnrate at http://127.0.0.1:8787 refused BURNRATE_API_TOKEN: it is not the token that instance was started with',
    ]);
    expect((await run(['list'], { token: 'right-token' })).code).toBe(0);
  });

  it('refuses a BURNRATE_URL that is not an http URL, and an answer that is not Burnrate', async () => {
    api = await onCallApi();
    const bad = await run(['list'], { url: 'localhost:8787' });
    expect(bad.code).toBe(1);
    expect(bad.io.stderr).toEqual(['BURNRATE_URL must be an http or https URL such as http://127.0.0.1:8787, not "localhost:8787"']);
    const io = (await import('../test-support/on-call-api.ts')).capturedIO();
    const proxy = (async () => new Response('<html>502 Bad Gateway</html>', { status: 502 })) as unknown as typeof fetch;
    expect(await anomaliesCommand(['list'], { url: 'http://burnrate.internal:8787/', fetch: proxy }, io)).toBe(1);
    expect(io.stderr).toEqual([
      "GET http://burnrate.internal:8787/api/anomalies answered 502 without Burnrate's JSON: is BURNRATE_URL (http://burnrate.internal:8787) a Burnrate instance?",
    ]);
  });
});
