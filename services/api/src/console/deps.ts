import type { Clock, ConfigIssue, ConfigSource, ConfigStatus, Logger } from '@burnrate/core';
import type { Store } from '@burnrate/store';
import type { StateRecorder } from '../state-recorder.ts';
import type { ConsoleSessions } from './session.ts';

export type ConsoleStore = Pick<
  Store,
  'listAnomalies' | 'listAnomalyStates' | 'firstDetectedAt' | 'getAnomaly' | 'anomalyVersions' | 'listDeliveries' | 'spend' | 'spendTop'
>;

/** One anomaly of a backtest run, as the config page lists it (backtest-report.ts's AnomalySummary has these). */
export interface BacktestRow {
  id: string;
  kind: string;
  team: string;
  subject: { developer?: string | undefined; session?: string | undefined; model?: string | undefined };
  severity: string;
  first_detected_at: string;
  impact_usd: number;
  summary: string;
}

export type ConsoleBacktestResult =
  | {
      ok: true;
      /** Events replayed (the same for both runs). */
      events: number;
      proposed: number;
      current: number;
      new: BacktestRow[];
      gone: BacktestRow[];
      changed: Array<{ changed: string[]; baseline: BacktestRow; proposed: BacktestRow }>;
      unchanged: number;
    }
  | { ok: false; problems: ConfigIssue[] }
  /**
   * Not run, or stopped: `busy` while another backtest runs (one at a time, so the detectors and
   * ingest keep their CPU), `timeout` when it ran past its time limit. `message` says which, for a person.
   */
  | { ok: false; refused: 'busy' | 'timeout'; message: string };

/**
 * Runs `burnrate backtest` for the config page: the running config against a pasted proposal,
 * over the events the store holds in [from, to). The CLI's backtest machinery implements it
 * (services/cli/src/console-backtest.ts); a process without it shows the form disabled.
 */
export interface ConsoleBacktester {
  run(input: { proposal: string; from: string; to: string }): Promise<ConsoleBacktestResult>;
}

export interface ConsoleDeps {
  store: ConsoleStore;
  recorder: StateRecorder;
  config: ConfigSource & { status?: () => ConfigStatus };
  sessions: ConsoleSessions;
  clock: Clock;
  log: Logger;
  /** Each team's `budget.monthly_usd`, as GET /api/spend reads it. */
  budgets: () => ReadonlyMap<string, number | undefined>;
  backtester?: ConsoleBacktester | undefined;
  /** Where `burnrate config check` would find its warnings: the running config's. */
  warnings: () => ConfigIssue[];
}
