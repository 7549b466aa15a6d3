import { describe, expect, it } from 'vitest';
import { nextSnapshotInterval, snapshotPacing } from './snapshot-pacing.ts';

describe('snapshot pacing', () => {
  it('keeps maxSnapshotEveryMs at least snapshotEveryMs, 30 s when unset', () => {
    expect(snapshotPacing(1000, undefined)).toEqual({ snapshotEveryMs: 1000, maxSnapshotEveryMs: 30_000 });
    expect(snapshotPacing(1000, 500)).toEqual({ snapshotEveryMs: 1000, maxSnapshotEveryMs: 1000 });
    expect(snapshotPacing(60_000, undefined)).toEqual({ snapshotEveryMs: 60_000, maxSnapshotEveryMs: 60_000 });
  });

  it.each([
    // [costMs, serialisedMs, interval]: cheap ones keep to snapshotEveryMs ...
    [24, 20, 1000],
    // ... a costly one is followed no sooner than 20 times its cost ...
    [25, 0, 1000],
    [100, 10, 2000],
    // ... up to maxSnapshotEveryMs ...
    [5000, 100, 30_000],
    // ... unless serialising alone, the partition held, would take more than a tenth of it.
    [6000, 5000, 50_000],
  ])('after a snapshot costing %i ms (%i serialising), waits %i ms', (costMs, serialisedMs, interval) => {
    expect(nextSnapshotInterval(snapshotPacing(1000, 30_000), costMs, serialisedMs)).toBe(interval);
  });
});
