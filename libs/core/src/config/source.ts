import type { Logger } from '../logger.ts';
import { ConfigError, loadConfig, type ParseConfigOptions } from './load.ts';
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

export type ReloadResult = { ok: true; changed: boolean } | { ok: false; error: Error };

/** A config read from a file, read again by `reload()`. */
export interface FileConfigSource extends ConfigSource {
  /**
   * Reads and validates the file again. A valid file becomes `current()`; an invalid or
   * unreadable one is refused and the config in use stays, with the reason in the result and the
   * log. Never throws.
   */
  reload(): Promise<ReloadResult>;
}

/**
 * Loads `path` once (throwing ConfigError on an invalid file, so a process does not start on one)
 * and keeps it as the current config until a reload replaces it.
 */
export async function loadConfigSource(
  path: string,
  options: ParseConfigOptions & { log: Logger; describe?: string },
): Promise<FileConfigSource> {
  const { log, describe, ...parse } = options;
  let config = await loadConfig(path, parse);
  let text = JSON.stringify(config);
  return {
    current: () => config,
    origin: describe ?? path,
    async reload() {
      try {
        const next = await loadConfig(path, parse);
        const nextText = JSON.stringify(next);
        const changed = nextText !== text;
        if (changed) {
          config = next;
          text = nextText;
        }
        log.info({ config: path, changed }, changed ? 'config reloaded' : 'config reloaded, unchanged');
        return { ok: true, changed };
      } catch (err) {
        const error = err instanceof Error ? err : new Error(String(err));
        log.error(
          { config: path, ...(err instanceof ConfigError ? { issues: err.issues } : { err: error }) },
          'config reload refused; the config in use stays',
        );
        return { ok: false, error };
      }
    },
  };
}
