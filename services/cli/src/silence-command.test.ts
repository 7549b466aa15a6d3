import { afterEach, describe, expect, it } from 'vitest';
import { capturedIO, onCallApi, type OnCallApi } from '../test-support/on-call-api.ts';
import { silenceCommand } from './silence-command.ts';

let api: OnCallApi;
afterEach(async () => {
  await api?.close();
});

const run = async (argv: string[]) => {
  const io = capturedIO();
  const code = await silenceCommand(argv, { user: 'bob@acme.com', fetch: api.fetch }, io);
  return { code, io };
};
const idOf = (line: string | undefined): string => /^silence (\S+) /.exec(line ?? '')?.[1] ?? '';

describe('burnrate silence', () => {
  it('adds a silence from --match, lists it, expires it', async () => {
    api = await onCallApi();
    const added = await run(['add', '--match', 'team=payments', 'kind=session_cost', '--for', '4h', '--comment', 'load test today']);
    expect(added.code).toBe(0);
    expect(added.io.stdout).toEqual([
      expect.stringMatching(
        /^silence \S+ added \(active\): team=payments kind=session_cost, from 2026-11-27 12:00Z until 2026-11-27 16:00Z$/,
      ),
    ]);
    const id = idOf(added.io.stdout[0]);
    const [stored] = await api.store.listSilences();
    expect(stored).toMatchObject({ id, created_by: 'bob@acme.com', comment: 'load test today' });

    api.clock.advance(1000);
    await run([
      'add',
      '--match=severity!=critical',
      '--starts',
      '2026-11-28T08:00:00Z',
      '--until',
      '2026-11-28T18:00:00Z',
      '--comment',
      'window',
      '--by',
      'carol@acme.com',
    ]);
    const listed = await run(['list']);
    expect(listed.io.stdout[0]).toMatch(/^ID\s+STATE\s+MATCHERS\s+STARTS\s+ENDS\s+BY\s+COMMENT$/);
    expect(listed.io.stdout.slice(1)).toEqual([
      expect.stringMatching(/^\S+\s+pending\s+severity!=critical\s+2026-11-28 08:00Z\s+2026-11-28 18:00Z\s+carol@acme.com\s+window$/),
      expect.stringMatching(
        new RegExp(
          `^${id}\\s+active\\s+team=payments kind=session_cost\\s+2026-11-27 12:00Z\\s+2026-11-27 16:00Z\\s+bob@acme.com\\s+load test today$`,
        ),
      ),
    ]);

    api.clock.advance(59_000);
    const expired = await run(['expire', id, 'nope']);
    expect(expired.code).toBe(1);
    expect(expired.io.stdout).toEqual([`silence ${id} expired at 2026-11-27 12:01Z`]);
    expect(expired.io.stderr).toEqual(['nope: no silence with id "nope"']);
    expect((await run(['list'])).io.stdout).toHaveLength(2);
    expect((await run(['list', '--expired'])).io.stdout.slice(1)).toEqual([expect.stringMatching(new RegExp(`^${id}\\s+expired`))]);
    expect(JSON.parse((await run(['list', '--all', '--json'])).io.text())).toHaveLength(2);
    expect(await api.store.listSilences({ active_at: api.clock.now().toISOString() })).toEqual([]);
  });

  it('exits 2 for a command line that cannot be right, 1 with what the instance refused', async () => {
    api = await onCallApi();
    const usage: [string[], RegExp][] = [
      [['add', '--for', '4h', '--comment', 'x'], /needs --match LABEL=VALUE/],
      [['add', '--match', 'team=payments', '--comment', 'x'], /needs one of --for/],
      [['add', '--match', 'team=payments', '--for', '4h'], /needs --comment "why"/],
      [['add', 'team=payments', '--for', '4h', '--comment', 'x'], /takes no "team=payments"; matchers go after --match/],
      [['add', '--match', '--for', '4h', '--comment', 'x'], /--match needs at least one value/],
      [['list', '--all', '--expired'], /not both/],
      [['expire'], /needs at least one silence id/],
      [['mute'], /unknown silence command "mute"/],
    ];
    for (const [argv, message] of usage) {
      const { code, io } = await run(argv);
      expect(code, argv.join(' ')).toBe(2);
      expect(io.stderr.join('\n'), argv.join(' ')).toMatch(message);
    }
    const refused = await run(['add', '--match', 'team=payments', 'kind=session-cost', '--for', '4h', '--comment', 'x']);
    expect(refused.code).toBe(1);
    expect(refused.io.stderr.join('\n')).toMatch(/^matchers\[1\] "kind=session-cost": kind must be one of session_cost/);
    expect(await api.store.listSilences()).toEqual([]);
  });
});
