import { mkdir, open, readFile, rename } from 'node:fs/promises';
import { dirname } from 'node:path';
import { BurnrateError } from '@burnrate/core';
import { UsageEvent } from '@burnrate/schemas';
import { z } from 'zod';

/** The additive quantities of a bucket row: what a revision can change and what a correction carries. */
export const TOTAL_FIELDS = [
  'requests',
  'input_tokens',
  'output_tokens',
  'cache_read_tokens',
  'cache_write_tokens',
  'cache_write_1h_tokens',
  'cost_usd',
] as const;
export type TotalField = (typeof TOTAL_FIELDS)[number];
export type Totals = Partial<Record<TotalField, number>>;

const Totals = z.partialRecord(z.enum(TOTAL_FIELDS), z.number().nonnegative());

/**
 * What one poller keeps across restarts, in one JSON file of the data dir.
 * - `cursor`: the end of the newest complete bucket read; the next poll starts `overlap` buckets before it.
 * - `rows`: for each row still inside the overlap, by its event id, the totals published so far,
 *   so a re-read publishes only what grew.
 * - `pending`: events decided but perhaps not yet published (written before the publish, cleared
 *   after it), published again at start: a crash between the two loses nothing.
 */
export const PollerState = z.object({
  version: z.literal(1),
  cursor: z.iso.datetime().nullable(),
  rows: z.record(z.string(), z.object({ period_start: z.iso.datetime(), totals: Totals })),
  pending: z.array(UsageEvent),
});
export type PollerState = z.infer<typeof PollerState>;

export const EMPTY_STATE: PollerState = { version: 1, cursor: null, rows: {}, pending: [] };

export interface StateFile {
  readonly path: string;
  /** The saved state, or the empty state when there is none yet; throws when the file cannot be read. */
  load(): Promise<PollerState>;
  /** Replaces the saved state atomically: a crash leaves the old state or the new, never a mix. */
  save(state: PollerState): Promise<void>;
}

/**
 * A state file written as temp file + fsync + rename + fsync of the directory, so the rename
 * itself survives a power cut. Every step's error reaches the caller: a poll whose state was not
 * saved publishes nothing.
 */
export function stateFile(path: string): StateFile {
  return {
    path,
    async load() {
      let text: string;
      try {
        text = await readFile(path, 'utf8');
      } catch (err) {
        if ((err as { code?: unknown }).code === 'ENOENT') return structuredClone(EMPTY_STATE);
        throw err;
      }
      let parsed: ReturnType<typeof PollerState.safeParse>;
      try {
        parsed = PollerState.safeParse(JSON.parse(text));
      } catch (err) {
        throw new BurnrateError('INTERNAL', `poller state ${path} is not JSON; move it aside to read the backfill again`, { cause: err });
      }
      if (!parsed.success) {
        const first = parsed.error.issues[0];
        throw new BurnrateError(
          'INTERNAL',
          `poller state ${path} is not a poller state (${first?.path.join('.') ?? ''}: ${first?.message ?? ''}); move it aside to read the backfill again`,
        );
      }
      return parsed.data;
    },
    async save(state) {
      const dir = dirname(path);
      await mkdir(dir, { recursive: true });
      const temp = `${path}.tmp`;
      const file = await open(temp, 'w');
      try {
        await file.writeFile(JSON.stringify(state));
        await file.sync();
      } finally {
        await file.close();
      }
      await rename(temp, path);
      const directory = await open(dir, 'r');
      try {
        await directory.sync();
      } finally {
        await directory.close();
      }
    },
  };
}
