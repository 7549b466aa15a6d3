import { type Config, type ConfigSource, ConfigError, parseConfig, teamTimezone } from '@burnrate/core';
import type { ConsoleBacktester } from '@burnrate/api';
// The replay and the event stream by their own entries, not the packages' indexes: this file runs
// in a worker thread (console-backtest-thread.ts), and a thread that loaded chdb's native addon
// (which the indexes import) crashes the whole process when it is terminated.
import { replay, reportsAfterTheirPeriod } from '@burnrate/detector/replay';
import { receiverSchema } from '@burnrate/notify';
import type { Store } from '@burnrate/store';
import { streamUsageEvents } from '@burnrate/store/usage-event-stream';
import { diffRuns, runReport } from './backtest-report.ts';

/**
 * The config page's backtest: `burnrate backtest --config <pasted> --baseline <running>` over the
 * running process's own store (chdb opens a directory in one process, so the CLI could not read
 * it while `burnrate start` runs). Same replay, same report and diff code as the CLI. It is CPU
 * work for seconds or minutes: `burnrate start` runs it in a worker thread
 * (console-backtest-thread.ts), so ingest keeps the event loop.
 */
export function createConsoleBacktester(deps: {
  config: Pick<ConfigSource, 'current'>;
  store: Pick<Store, 'listUsageEvents'>;
}): ConsoleBacktester {
  return {
    async run({ proposal, from, to }) {
      let proposed: Config;
      try {
        proposed = parseConfig(proposal, '<pasted proposal>', { receiver: receiverSchema });
      } catch (err) {
        if (err instanceof ConfigError) return { ok: false, problems: err.issues };
        throw err;
      }
      const current = deps.config.current();
      if (proposed.org !== current.org) {
        return {
          ok: false,
          problems: [{ path: 'org', message: `is ${proposed.org}, but this Burnrate runs org ${current.org}: compare configs of one org` }],
        };
      }
      const window = { org: current.org, from, to };
      const zoneOf = (team: string): string => teamTimezone(proposed, team);
      const run = async (role: 'proposed' | 'baseline', config: Config) =>
        runReport(role, role, await replay(reportsAfterTheirPeriod(streamUsageEvents(deps.store, window)), config), zoneOf, from);
      const proposedRun = await run('proposed', proposed);
      const baselineRun = await run('baseline', current);
      const diff = diffRuns(baselineRun.anomalies, proposedRun.anomalies);
      return {
        ok: true,
        events: proposedRun.replay.events,
        proposed: proposedRun.anomalies.length,
        current: baselineRun.anomalies.length,
        new: diff.new,
        gone: diff.gone,
        changed: diff.changed,
        unchanged: diff.unchanged,
      };
    },
  };
}
