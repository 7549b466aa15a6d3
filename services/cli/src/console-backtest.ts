import { type Config, type ConfigSource, ConfigError, parseConfig, teamTimezone } from '@burnrate/core';
import type { ConsoleBacktester } from '@burnrate/api';
import { replay, reportsAfterTheirPeriod } from '@burnrate/detector';
import { receiverSchema } from '@burnrate/notify';
import { type Store, streamUsageEvents } from '@burnrate/store';
import { diffRuns, runReport } from './backtest-report.ts';

/**
 * The config page's backtest: `burnrate backtest --config <pasted> --baseline <running>` over the
 * running process's own store (chdb opens a directory in one process, so the CLI could not read
 * it while `burnrate start` runs). Same replay, same report and diff code as the CLI.
 */
export function createConsoleBacktester(deps: { config: ConfigSource; store: Pick<Store, 'listUsageEvents'> }): ConsoleBacktester {
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
