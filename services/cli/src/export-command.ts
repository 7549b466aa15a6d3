import { once } from 'node:events';
import { createWriteStream } from 'node:fs';
import { rename, rm } from 'node:fs/promises';
import type { Writable } from 'node:stream';
import { finished } from 'node:stream/promises';
import { isBurnrateError } from '@burnrate/core';
import { streamUsageEvents } from '@burnrate/store';
import { parseBound, UsageError } from './backtest-args.ts';
import { type BacktestEnv, openEventStore } from './backtest.ts';
import { parseCommandArgs } from './command-args.ts';
import type { CommandIO } from './config-command.ts';

export const EXPORT_USAGE = `usage:
  burnrate export events [--from DATE] [--to DATE] [--org ORG] [--data-dir DIR] [--out FILE]

Writes stored usage events as NDJSON, oldest first: one UsageEvent per line, as POST /v1/events
and burnrate backtest --input take them back. --from is inclusive, --to exclusive (a date is
midnight UTC, or give an instant). Without --out the lines go to stdout; with it, to FILE, which
appears only once complete.

Events come from the embedded store of burnrate start (--data-dir, else BURNRATE_DATA_DIR, default
./.burnrate; stop burnrate start first, the embedded ClickHouse opens a data directory in one
process at a time), or from the ClickHouse server at CLICKHOUSE_URL when it is set.`;

/** `burnrate export events`: 0 written, 1 the store or the file failed, 2 a bad command line. */
export async function exportCommand(argv: readonly string[], env: BacktestEnv, io: CommandIO, stdout: Writable): Promise<number> {
  const [what, ...rest] = argv;
  if (what === undefined || what === 'help' || what === '--help') {
    io.out(EXPORT_USAGE);
    return what === undefined ? 2 : 0;
  }
  let args;
  try {
    if (what !== 'events') throw new UsageError(`unknown export ${JSON.stringify(what)}; there is events`);
    args = parseCommandArgs(rest, { values: ['from', 'to', 'org', 'data-dir', 'out'] });
    if (args.positionals.length > 0) throw new UsageError(`export events takes no ${JSON.stringify(args.positionals[0])}`);
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    io.err(`burnrate export: ${err.message}\n\n${EXPORT_USAGE}`);
    return 2;
  }
  if (args.switches.has('help')) {
    io.out(EXPORT_USAGE);
    return 0;
  }
  let from: string | undefined;
  let to: string | undefined;
  try {
    const given = { from: args.values.get('from'), to: args.values.get('to') };
    from = given.from === undefined ? undefined : parseBound('--from', given.from);
    to = given.to === undefined ? undefined : parseBound('--to', given.to);
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    io.err(`burnrate export: ${err.message}`);
    return 2;
  }

  const out = args.values.get('out');
  const partial = out === undefined ? undefined : `${out}.partial`;
  let opened;
  try {
    opened = await openEventStore(args.values.get('data-dir'), env);
  } catch (err) {
    if (!isBurnrateError(err)) throw err;
    io.err(err.message);
    return 1;
  }
  const sink = partial === undefined ? stdout : createWriteStream(partial, { flags: 'w' });
  let count = 0;
  try {
    const org = args.values.get('org');
    for await (const event of streamUsageEvents(opened.store, { ...(org !== undefined ? { org } : {}), from, to })) {
      count += 1;
      if (!sink.write(`${JSON.stringify(event)}\n`))
        await Promise.race([once(sink, 'drain'), once(sink, 'error').then(([e]) => Promise.reject(e as Error))]);
    }
    if (partial !== undefined && out !== undefined) {
      sink.end();
      await finished(sink);
      await rename(partial, out);
    }
  } catch (err) {
    if (partial !== undefined) {
      sink.destroy();
      await rm(partial, { force: true });
    }
    io.err(`burnrate export: stopped after ${count} events: ${err instanceof Error ? err.message : String(err)}`);
    return 1;
  } finally {
    await opened.store.close();
  }
  io.err(
    `exported ${count} event${count === 1 ? '' : 's'} from ${opened.info.kind === 'chdb' ? opened.info.data_dir : opened.info.url}${out ? ` to ${out}` : ''}`,
  );
  return 0;
}
