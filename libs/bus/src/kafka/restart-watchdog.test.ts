import { Writable } from 'node:stream';
import { createLogger } from '@burnrate/core';
import { describe, expect, it } from 'vitest';
import { createRestartWatchdog, type RestartWatchdogDeps } from './restart-watchdog.ts';

interface FakeRun {
  name: string;
  ended: boolean;
}

/**
 * A watchdog over fake runs: `outcomes` says what each launch does: a run that joins, one that
 * crashed while joining, a throw, or a run that joins while the subscription is being stopped.
 */
function harness(
  outcomes: ('joins' | 'crashes' | 'throws' | 'joins-while-stopping')[],
  overrides: Partial<RestartWatchdogDeps<FakeRun>> = {},
) {
  const lines: Record<string, unknown>[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _enc, done) {
      lines.push(JSON.parse(chunk.toString()) as Record<string, unknown>);
      done();
    },
  });
  const controller = new AbortController();
  const world = {
    running: true,
    current: { name: 'first', ended: true } as FakeRun | undefined,
    launched: 0,
    restarted: 0,
    ended: [] as string[],
  };
  const watchdog = createRestartWatchdog<FakeRun>({
    log: createLogger({ level: 'debug', destination }),
    restartDelayMs: 1,
    maxRestartDelayMs: 4,
    signal: controller.signal,
    running: () => world.running,
    current: () => world.current,
    launch: async () => {
      const outcome = outcomes[world.launched++] ?? 'joins';
      if (outcome === 'throws') throw new Error(`launch ${world.launched} failed`);
      if (outcome === 'joins-while-stopping') world.running = false;
      world.current = { name: `run ${world.launched}`, ended: outcome === 'crashes' };
      return world.current;
    },
    end: async (run) => {
      world.ended.push(run.name);
    },
    restarted: () => {
      world.restarted += 1;
    },
    ...overrides,
  });
  const restarts = () => lines.filter((l) => l.msg === 'restarting the consumer');
  return { watchdog, world, controller, restarts };
}

describe('createRestartWatchdog', () => {
  it('backs off longer after each failure in a row, until a run joins; a batch through starts it over', async () => {
    const { watchdog, world, restarts } = harness(['throws', 'throws', 'crashes', 'joins', 'joins']);
    await watchdog.restartAfter(world.current as FakeRun, new Error('fatal handler error'));
    expect([world.launched, world.restarted]).toEqual([4, 1]);
    expect(restarts().map((l) => [l.attempt, l.restartInMs])).toEqual([
      [1, 1],
      [2, 2],
      [3, 4],
      [4, 4],
    ]);
    expect(restarts().map((l) => (l.err as { message: string }).message)).toEqual([
      'fatal handler error',
      'launch 1 failed',
      'launch 2 failed',
      'the restarted consumer crashed while joining',
    ]);

    watchdog.healthy();
    await watchdog.restartAfter(world.current as FakeRun, new Error('crash'));
    expect(restarts().at(-1)).toMatchObject({ attempt: 1, restartInMs: 1 });
  });

  it('runs one loop at a time: a failure reported while it runs is the loop it already has', async () => {
    const { watchdog, world } = harness(['crashes', 'joins']);
    const first = world.current as FakeRun;
    const loop = watchdog.restartAfter(first, new Error('crash'));
    expect(watchdog.restartAfter(first, new Error('the same crash, told again'))).toBe(loop);
    await loop;
    await watchdog.settled();
    expect([world.launched, world.restarted]).toEqual([2, 1]);
  });

  it('leaves alone a run that is not the current one, and does nothing once the subscription is not running', async () => {
    const { watchdog, world } = harness([]);
    await watchdog.restartAfter({ name: 'an older run', ended: true }, new Error('late crash'));
    world.running = false;
    await watchdog.restartAfter(world.current as FakeRun, new Error('crash while stopping'));
    expect(world.launched).toBe(0);
  });

  it('stops waiting when the subscription stops, and ends a run launched while it stopped', async () => {
    const slow = harness([], { restartDelayMs: 60_000, maxRestartDelayMs: 60_000 });
    const waiting = slow.watchdog.restartAfter(slow.world.current as FakeRun, new Error('crash'));
    slow.world.running = false;
    slow.controller.abort();
    await waiting;
    expect(slow.world.launched).toBe(0);

    const stopping = harness(['joins-while-stopping']);
    await stopping.watchdog.restartAfter(stopping.world.current as FakeRun, new Error('crash'));
    expect([stopping.world.ended, stopping.world.restarted]).toEqual([['run 1'], 0]);
  });
});
