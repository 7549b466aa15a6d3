import { type FSWatcher, watch } from 'node:fs';
import { realpath } from 'node:fs/promises';
import { basename, dirname } from 'node:path';
import type { FileConfigSource, Logger } from '@burnrate/core';

export interface ConfigWatchOptions {
  source: FileConfigSource;
  log: Logger;
  /** Reads the file again (the same path SIGHUP takes); its result is logged by the source. */
  reload: () => Promise<unknown>;
  /** How long the directory must stay quiet after a change before the file is read. Default 300 ms. */
  debounceMs?: number;
}

export interface ConfigWatch {
  start(): Promise<void>;
  stop(): Promise<void>;
}

/**
 * Reloads burnrate.yaml when it changes on disk. It watches the directories that hold the file
 * (and its identities CSV), not the files: an editor saves by writing a new file and renaming it
 * over the old one, and a Kubernetes ConfigMap is updated by swapping the `..data` symlink, and
 * a watch on the old file would see neither. A burst of events (an editor's temp file, rename and
 * chmod) is one reload once the directory has been quiet for `debounceMs`; the source compares
 * the content's hash, so a touch or a save without changes reloads nothing.
 *
 * The directories are worked out again after every reload: a symlink may now point elsewhere,
 * and the identities CSV may have been renamed.
 */
export function createConfigWatch(options: ConfigWatchOptions): ConfigWatch {
  const { source, log } = options;
  const debounceMs = options.debounceMs ?? 300;
  const watchers = new Map<string, FSWatcher>();
  let names = new Set<string>();
  let timer: NodeJS.Timeout | undefined;
  let stopped = false;
  let running: Promise<void> = Promise.resolve();

  /** The directories of each file and of what a symlink to it resolves to, with the names to look for in them. */
  const targets = async (): Promise<{ dirs: Set<string>; names: Set<string> }> => {
    const dirs = new Set<string>();
    const wanted = new Set<string>();
    for (const file of source.files()) {
      for (const path of [file, await realpath(file).catch(() => file)]) {
        dirs.add(dirname(path));
        wanted.add(basename(path));
      }
    }
    return { dirs, names: wanted };
  };

  const refresh = async (): Promise<void> => {
    const next = await targets();
    names = next.names;
    for (const [dir, watcher] of watchers) {
      if (next.dirs.has(dir)) continue;
      watcher.close();
      watchers.delete(dir);
    }
    for (const dir of next.dirs) {
      if (watchers.has(dir) || stopped) continue;
      try {
        const watcher = watch(dir, { persistent: false }, (_event, name) => onEvent(name));
        // The directory went away (a ConfigMap's old timestamped one): watch what is there now.
        watcher.on('error', (err) => {
          watcher.close();
          watchers.delete(dir);
          log.debug({ err, dir }, 'config watch lost its directory');
          schedule();
        });
        watchers.set(dir, watcher);
      } catch (err) {
        log.warn({ err, dir }, 'cannot watch the config directory; SIGHUP still reloads');
      }
    }
  };

  // `..data` and friends: a ConfigMap's atomic writer swaps them; a null name is a platform that does not say.
  const relevant = (name: string | Buffer | null): boolean =>
    name === null || names.has(name.toString()) || name.toString().startsWith('..');

  function onEvent(name: string | Buffer | null): void {
    if (relevant(name)) schedule();
  }

  function schedule(): void {
    if (stopped) return;
    clearTimeout(timer);
    timer = setTimeout(() => {
      running = running
        .then(async () => {
          if (stopped) return;
          await options.reload();
          await refresh();
        })
        .catch((err: unknown) => log.error({ err }, 'config reload after a file change failed'));
    }, debounceMs);
  }

  return {
    async start() {
      await refresh();
      log.info({ dirs: [...watchers.keys()], debounceMs }, 'watching the config file for changes');
    },
    async stop() {
      stopped = true;
      clearTimeout(timer);
      for (const watcher of watchers.values()) watcher.close();
      watchers.clear();
      await running.catch(() => undefined);
    },
  };
}
