import { createLogger, parseConfig } from '@burnrate/core';
import { receiverSchema } from '@burnrate/notify';
import { createMemoryStore, type Store } from '@burnrate/store';
import { usageEvent } from '@burnrate/testing';
import { describe, expect, it } from 'vitest';
import { TEST_CONFIG } from '../test-support/burnrate-process.ts';
import { createConsoleBacktester } from './console-backtest.ts';
import { createBacktestThread } from './console-backtest-thread.ts';

const log = createLogger({ level: 'silent' });
const running = parseConfig(TEST_CONFIG, 'burnrate.yaml', { receiver: receiverSchema });
const config = { current: () => running };
const RANGE = { from: '2026-11-27T00:00:00.000Z', to: '2026-11-28T00:00:00.000Z' };
// The proposal lowers the session warning cap from $25 to $4: alice's $6 session is NEW.
const PROPOSAL = TEST_CONFIG.replace('warning_usd: 25', 'warning_usd: 4');

/** A store whose reads never answer: a backtest over it runs until it is stopped. */
const stuck: Pick<Store, 'listUsageEvents'> = { listUsageEvents: () => new Promise(() => {}) };

describe('the config page backtest in a worker thread', () => {
  it('answers what the same code answers on the main thread, reading the store through the main thread', async () => {
    const store = createMemoryStore();
    await store.insertUsageEvents(
      [1.5, 1.5, 1.5, 1.5].map((cost_usd, i) =>
        usageEvent({ occurred_at: `2026-11-27T10:${String(i * 5).padStart(2, '0')}:00.000Z`, session_id: 'alice-s', cost_usd }),
      ),
    );
    const threaded = await createBacktestThread({ config, store, log }).run({ proposal: PROPOSAL, ...RANGE });
    const inline = await createConsoleBacktester({ config, store }).run({ proposal: PROPOSAL, ...RANGE });
    expect(threaded).toEqual(inline);
    expect(threaded).toMatchObject({ ok: true, events: 4, new: [{ kind: 'session_cost', subject: { session: 'alice-s' } }] });
    // An invalid proposal: the problems, as config check names them.
    const invalid = await createBacktestThread({ config, store, log }).run({ proposal: 'org: acme\nteams: nope\n', ...RANGE });
    expect(invalid).toMatchObject({ ok: false, problems: [{ path: 'teams' }] });
  });

  it('runs one at a time: a second request is told one is already running, and nothing is started', async () => {
    let now = new Date('2026-11-28T09:00:00Z');
    const thread = createBacktestThread({ config, store: stuck, log, clock: { now: () => now } });
    const first = thread.run({ proposal: PROPOSAL, ...RANGE });
    now = new Date('2026-11-28T09:00:42Z');
    const second = await thread.run({ proposal: PROPOSAL, ...RANGE });
    expect(second).toEqual({
      ok: false,
      refused: 'busy',
      message: expect.stringMatching(/^A backtest is already running \(started 42s ago\); one runs at a time/) as string,
    });
    await thread.stop();
    await expect(first).rejects.toMatchObject({ code: 'SHUTTING_DOWN' });
    // Free again once it ended: the next request runs.
    expect(await thread.run({ proposal: 'org: acme\nteams: nope\n', ...RANGE })).toMatchObject({
      ok: false,
      problems: [{ path: 'teams' }],
    });
  });

  it('stops a run past its time limit and says so', async () => {
    const thread = createBacktestThread({ config, store: stuck, log, timeoutMs: 300 });
    const result = await thread.run({ proposal: PROPOSAL, ...RANGE });
    expect(result).toEqual({
      ok: false,
      refused: 'timeout',
      message: expect.stringMatching(/^The backtest ran longer than 300ms and was stopped\./) as string,
    });
  });
});
