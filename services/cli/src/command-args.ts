import { UsageError } from './backtest-args.ts';

export interface ArgSpec {
  /** Flags that take one value: `--for 4h`, `--for=4h`. */
  values?: readonly string[];
  /** Flags that take every value up to the next flag: `--match team=payments kind=session_cost`; may repeat. */
  lists?: readonly string[];
  /** Flags that take no value: `--json`. */
  switches?: readonly string[];
}

export interface CommandArgs {
  positionals: string[];
  values: Map<string, string>;
  lists: Map<string, string[]>;
  switches: Set<string>;
}

/**
 * A command line read strictly: an unknown flag, a missing value or a value given twice is a
 * UsageError naming it, because an on-call command that quietly ignored `--reson noise` would
 * record something other than what was meant.
 */
export function parseCommandArgs(argv: readonly string[], spec: ArgSpec): CommandArgs {
  const values = new Set(spec.values ?? []);
  const lists = new Set(spec.lists ?? []);
  const switches = new Set([...(spec.switches ?? []), 'help']);
  const out: CommandArgs = { positionals: [], values: new Map(), lists: new Map(), switches: new Set() };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string;
    if (!arg.startsWith('--')) {
      out.positionals.push(arg);
      continue;
    }
    const eq = arg.indexOf('=');
    const name = eq > 0 ? arg.slice(2, eq) : arg.slice(2);
    const inline = eq > 0 ? arg.slice(eq + 1) : undefined;
    if (switches.has(name)) {
      if (inline !== undefined) throw new UsageError(`--${name} is a switch and takes no value`);
      out.switches.add(name);
    } else if (values.has(name)) {
      const value = inline ?? (argv[i + 1] !== undefined && !(argv[i + 1] as string).startsWith('--') ? argv[++i] : undefined);
      if (value === undefined || value === '') throw new UsageError(`--${name} needs a value`);
      if (out.values.has(name)) throw new UsageError(`--${name} is given twice`);
      out.values.set(name, value);
    } else if (lists.has(name)) {
      const items = out.lists.get(name) ?? [];
      if (inline !== undefined) items.push(inline);
      else while (argv[i + 1] !== undefined && !(argv[i + 1] as string).startsWith('--')) items.push(argv[++i] as string);
      if (items.length === 0) throw new UsageError(`--${name} needs at least one value`);
      out.lists.set(name, items);
    } else {
      const known = [...values, ...lists, ...switches].map((f) => `--${f}`).join(', ');
      throw new UsageError(`unknown flag --${name} (this command takes ${known})`);
    }
  }
  return out;
}
