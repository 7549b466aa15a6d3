import type { Logger } from '../logger.ts';
import { configDiff, type ConfigChange, formatChange } from './diff.ts';
import { type ConfigIssue, configReport } from './issues.ts';
import { type ConfigCheck, ConfigError, checkConfigFile, type ParseConfigOptions } from './load.ts';
import type { Config } from './schema.ts';

/**
 * Where a component reads the config: `current()` at each use (an event, a request, an anomaly),
 * never once at construction, so a reload applies to the next one without restarting anything
 * and without losing state built under the old config.
 */
export interface ConfigSource {
  current(): Config;
  /** Where the config comes from, for logs and /healthz: a path, or `<inline>`. */
  readonly origin: string;
}

/** A config that never changes: tests, backtests, one-shot commands. */
export function fixedConfig(config: Config, origin = '<inline>'): ConfigSource {
  return { current: () => config, origin };
}

/**
 * A config handed in by whoever read and checked it: a detector thread's, which takes each
 * reload from the process's main thread rather than reading the file itself, so every thread
 * runs exactly the config the process validated and logged.
 */
export interface HeldConfigSource extends ConfigSource {
  set(config: Config): void;
}

export function heldConfig(config: Config, origin: string): HeldConfigSource {
  let held = config;
  return {
    current: () => held,
    origin,
    set(next) {
      held = next;
    },
  };
}

export type ReloadResult = { ok: true; changed: boolean; changes: ConfigChange[] } | { ok: false; error: Error; problems: ConfigIssue[] };

/** What reloaded: a signal someone sent on purpose, or the file changing under a watch. */
export type ReloadTrigger = 'SIGHUP' | 'file';

/** The config in use and the last refused attempt, as /healthz shows them. */
export interface ConfigStatus {
  path: string;
  /** SHA-256 of the files in use (burnrate.yaml and its identities CSV). */
  hash: string;
  /** When the config in use was read. */
  loaded_at: string;
  /** The last reload refused since then; cleared by the next one that succeeds. */
  last_error?: { at: string; hash: string | null; message: string; problems: ConfigIssue[] };
}

/** A config read from a file, read again by `reload()`. */
export interface FileConfigSource extends ConfigSource {
  /**
   * Reads and checks the file again with config check's one-pass check. A valid file whose
   * settings differ becomes `current()`, and the log says which settings changed; an invalid or
   * unreadable one is refused with every problem logged, and the config in use stays. Reloads
   * run one at a time, in call order. Never throws.
   */
  reload(trigger?: ReloadTrigger): Promise<ReloadResult>;
  status(): ConfigStatus;
  /** The files the config was last read from (burnrate.yaml, the identities CSV): what a watch covers. */
  files(): readonly string[];
}

/**
 * Loads `path` once (throwing ConfigError on an invalid file, so a process does not start on one)
 * and keeps it as the current config until a reload replaces it.
 */
export async function loadConfigSource(
  path: string,
  options: ParseConfigOptions & { log: Logger; describe?: string; now?: () => Date },
): Promise<FileConfigSource> {
  const { log, describe, now = () => new Date(), ...parse } = options;
  const first = await checkConfigFile(path, parse);
  if (first.config === undefined) throw new ConfigError(path, first.problems);
  if (first.warnings.length > 0) log.warn({ config: path, warnings: first.warnings }, 'config warnings');
  let config = first.config;
  let hash = first.hash;
  let files: readonly string[] = first.files;
  let loadedAt = now();
  let lastError: ConfigStatus['last_error'];
  let queue: Promise<unknown> = Promise.resolve();

  const refuse = (trigger: ReloadTrigger, error: Error, checked: ConfigCheck | undefined): ReloadResult => {
    const problems = checked?.problems ?? [];
    const repeat = lastError !== undefined && checked !== undefined && lastError.hash === checked.hash;
    lastError = { at: now().toISOString(), hash: checked?.hash ?? null, message: error.message, problems };
    // A watch sees several writes of one save: the same refused content is logged once.
    if (!(repeat && trigger === 'file')) {
      log.error(
        { config: path, trigger, ...(problems.length > 0 ? { problems, report: error.message } : { err: error }) },
        'config reload refused; the config in use stays',
      );
    }
    return { ok: false, error, problems };
  };

  const reloadOnce = async (trigger: ReloadTrigger): Promise<ReloadResult> => {
    let checked: ConfigCheck;
    try {
      checked = await checkConfigFile(path, parse);
    } catch (err) {
      return refuse(trigger, err instanceof Error ? err : new Error(String(err)), undefined);
    }
    files = checked.files;
    if (checked.hash === hash) {
      if (lastError !== undefined) {
        lastError = undefined;
        log.info({ config: path, trigger, hash }, 'config file is back to the config in use');
      } else if (trigger === 'SIGHUP') log.info({ config: path, trigger, changed: false }, 'config reloaded, unchanged');
      return { ok: true, changed: false, changes: [] };
    }
    if (checked.config === undefined) return refuse(trigger, new Error(configReport(path, checked.problems)), checked);
    const changes = configDiff(config, checked.config);
    hash = checked.hash;
    loadedAt = now();
    lastError = undefined;
    if (checked.warnings.length > 0) log.warn({ config: path, warnings: checked.warnings }, 'config warnings');
    if (changes.length === 0) {
      // Comments or layout: the config object in use stays, so what components derived from it stays cached.
      log.info({ config: path, trigger, hash, changed: false }, 'config reloaded, unchanged');
      return { ok: true, changed: false, changes };
    }
    config = checked.config;
    log.info({ config: path, trigger, hash, changed: true, changes: changes.map(formatChange) }, 'config reloaded');
    return { ok: true, changed: true, changes };
  };

  return {
    current: () => config,
    origin: describe ?? path,
    reload(trigger = 'SIGHUP') {
      const result = queue.then(() => reloadOnce(trigger));
      queue = result.catch(() => undefined);
      return result;
    },
    status: () => ({
      path,
      hash,
      loaded_at: loadedAt.toISOString(),
      ...(lastError !== undefined ? { last_error: lastError } : {}),
    }),
    files: () => files,
  };
}
