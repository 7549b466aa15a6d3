import { resolve } from 'node:path';
import {
  type Config,
  createLogger,
  type FileConfigSource,
  Lifecycle,
  loadConfigSource,
  type Logger,
  type ParseConfigOptions,
  type ReloadTrigger,
} from '@burnrate/core';
import { createConfigWatch } from './config-watch.ts';
import { type Env, readConfigWatch } from './env.ts';
import { exitOnStartFailure, quietKafkajsWarnings, runUntilSignal } from './run.ts';

/** What a process's composition root builds on: its settings, its log, its lifecycle and its config. */
export interface ServiceRoot {
  readonly name: string;
  readonly env: Env;
  /** The process's root logger; components get `log.child({ component })`. */
  readonly log: Logger;
  /** Parts registered in start order; stopped in reverse on SIGINT/SIGTERM. */
  readonly lifecycle: Lifecycle;
  /** burnrate.yaml, read again on SIGHUP and when the file changes; undefined for a process that reads none (the sink). */
  readonly config: FileConfigSource | undefined;
  /**
   * Runs `listener` with the new config each time a reload changed it (a detector passes it on to
   * its threads); not for a refused or unchanged file.
   */
  onReload: (listener: (config: Config) => void) => void;
  /**
   * Runs `listener` when a successor asks this process to hand over its ports (SIGUSR2), just
   * before the shutdown; a process that registers none ends at once on SIGUSR2.
   */
  onHandOver: (listener: () => void) => void;
}

export type ConfigRequirement =
  /** BURNRATE_CONFIG must be set; `why` goes in the error when it is not. */
  | { required: true; why: string }
  /** BURNRATE_CONFIG, else this file (said in the logs as `describe`). */
  | { fallback: string; describe: string };

interface DefinitionBase {
  /** `ingest`, `sink`, … or `burnrate` for `burnrate start`: the ready line says `<name> is <verb>`. */
  name: string;
  verb?: 'running' | 'listening';
  /** How the config is validated (the channel registry's receiver schema, for processes that notify). */
  parse?: ParseConfigOptions;
}

/** A root whose process reads burnrate.yaml. */
export type ConfiguredRoot = ServiceRoot & { readonly config: FileConfigSource };

/** `build` registers the process's parts on `root.lifecycle`, in start order, and returns what the ready line says. */
export interface ServiceDefinition<Root extends ServiceRoot = ServiceRoot> extends DefinitionBase {
  config?: ConfigRequirement;
  build(root: Root): Promise<() => Record<string, unknown>>;
}

/**
 * The one shape of every Burnrate process, `burnrate start` and each standalone service alike:
 * a logger at BURNRATE_LOG_LEVEL, burnrate.yaml from BURNRATE_CONFIG, the parts the definition
 * builds, started in order; `<name> is running|listening` once they are; SIGINT/SIGTERM stop them
 * in reverse order (a second signal exits at once). SIGHUP, and a change of the file on disk
 * (unless BURNRATE_CONFIG_WATCH=off), reload the config: an invalid file is refused and the one in
 * use stays. A failure before the ready line is printed plainly, exit 1.
 */
export function runService(definition: ServiceDefinition<ConfiguredRoot> & { config: ConfigRequirement }, env?: Env): void;
export function runService(definition: ServiceDefinition & { config?: undefined }, env?: Env): void;
export function runService(definition: ServiceDefinition<ConfiguredRoot> | ServiceDefinition, env: Env = process.env): void {
  const log = createLogger({ level: env.BURNRATE_LOG_LEVEL ?? 'info' }).child({ service: definition.name });
  start(definition, env, log).catch(exitOnStartFailure(definition.name, log));
}

async function start(definition: ServiceDefinition<ConfiguredRoot> | ServiceDefinition, env: Env, log: Logger): Promise<void> {
  quietKafkajsWarnings(log);
  const config = await loadServiceConfig(definition, env, log);
  const lifecycle = new Lifecycle(log);
  const listeners: ((config: Config) => void)[] = [];
  const handOverListeners: (() => void)[] = [];
  const root: ServiceRoot = {
    name: definition.name,
    env,
    log,
    lifecycle,
    config,
    onReload: (listener) => void listeners.push(listener),
    onHandOver: (listener) => void handOverListeners.push(listener),
  };
  // loadServiceConfig returns a source exactly when the definition asks for one.
  const ready = await (definition.build as (root: ServiceRoot) => Promise<() => Record<string, unknown>>)(root);
  const reload =
    config === undefined
      ? undefined
      : async (trigger: ReloadTrigger): Promise<void> => {
          const result = await config.reload(trigger);
          if (result.ok && result.changed) for (const listener of listeners) listener(config.current());
        };
  if (config !== undefined && reload !== undefined && readConfigWatch(env)) {
    // Registered last: it starts once everything else runs and stops first.
    const watch = createConfigWatch({ source: config, log, reload: () => reload('file') });
    lifecycle.register({ name: 'config-watch', start: () => watch.start(), stop: () => watch.stop() });
  }
  await runUntilSignal({
    name: definition.name,
    verb: definition.verb ?? 'running',
    lifecycle,
    log,
    ready,
    ...(handOverListeners.length > 0 ? { handOver: () => handOverListeners.forEach((listener) => listener()) } : {}),
    ...(reload !== undefined ? { reload: () => reload('SIGHUP') } : {}),
  });
}

async function loadServiceConfig(
  definition: DefinitionBase & { config?: ConfigRequirement },
  env: Env,
  log: Logger,
): Promise<FileConfigSource | undefined> {
  const requirement = definition.config;
  if (requirement === undefined) return undefined;
  const given = env.BURNRATE_CONFIG;
  if (given) {
    const path = resolve(given);
    const source = await loadConfigSource(path, { ...definition.parse, log });
    log.info({ config: path }, 'config loaded');
    return source;
  }
  if ('required' in requirement) throw new Error(`BURNRATE_CONFIG is not set: the ${definition.name} ${requirement.why}`);
  const source = await loadConfigSource(requirement.fallback, { ...definition.parse, log, describe: requirement.describe });
  log.info({ config: requirement.describe }, 'config loaded');
  return source;
}
