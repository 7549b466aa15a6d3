import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { tempDir } from '@burnrate/testing';
import { describe, expect, it } from 'vitest';
import { EMPTY_STATE, type PollerState, stateFile } from './poller-state.ts';

const saved: PollerState = {
  version: 1,
  cursor: '2026-12-07T10:00:00.000Z',
  rows: { 'anthropic_usage_report:abc': { period_start: '2026-12-07T09:00:00.000Z', totals: { output_tokens: 300, requests: 0 } } },
  pending: [],
};

describe('stateFile', () => {
  it('is empty before the first save, and reads back what was saved, creating the directory', async () => {
    await using dir = await tempDir();
    const file = stateFile(join(dir.path, 'pollers', 'anthropic_usage_report.json'));
    expect(await file.load()).toEqual(EMPTY_STATE);
    await file.save(saved);
    expect(await file.load()).toEqual(saved);
    // Renamed into place: no temporary file is left behind.
    expect(await readdir(join(dir.path, 'pollers'))).toEqual(['anthropic_usage_report.json']);
  });

  it('replaces the whole state on each save', async () => {
    await using dir = await tempDir();
    const file = stateFile(join(dir.path, 'state.json'));
    await file.save(saved);
    await file.save({ ...saved, cursor: '2026-12-07T11:00:00.000Z', rows: {} });
    expect(JSON.parse(await readFile(join(dir.path, 'state.json'), 'utf8'))).toEqual({
      ...saved,
      cursor: '2026-12-07T11:00:00.000Z',
      rows: {},
    });
  });

  it('refuses a file that is not JSON or not a poller state, naming it and what to do', async () => {
    await using dir = await tempDir();
    const path = join(dir.path, 'state.json');
    await writeFile(path, '{"version":1,"cursor":');
    await expect(stateFile(path).load()).rejects.toThrow(`poller state ${path} is not JSON; move it aside to read the backfill again`);
    await writeFile(path, JSON.stringify({ ...saved, cursor: 'yesterday' }));
    await expect(stateFile(path).load()).rejects.toThrow(/is not a poller state \(cursor: .*\); move it aside/);
  });

  it('fails the save when the directory cannot be written, leaving the saved state as it was', async () => {
    await using dir = await tempDir();
    const path = join(dir.path, 'state.json');
    await stateFile(path).save(saved);
    // A directory where the temporary file would go: opening it for writing fails.
    await mkdir(`${path}.tmp`);
    await expect(stateFile(path).save({ ...saved, cursor: null })).rejects.toThrow(/EISDIR/);
    expect(await stateFile(path).load()).toEqual(saved);
  });
});
