import { writeFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitUntil } from '@burnrate/testing';
import {
  type BurnrateProcess,
  postJson,
  startBurnrate,
  startSurroundings,
  type Surroundings,
  TEST_INGEST_KEY,
} from '../test-support/burnrate-process.ts';
import { keyHash } from '@burnrate/ingest';

/** chdb's largest JSON row, which a detector snapshot of one row outgrew (issue: every snapshot failed from then on). */
const OLD_ROW_LIMIT_BYTES = 104_857_605;
const DEVELOPERS = 80_000;
const RECORDS_PER_REQUEST = 5_000;
/**
 * Developers are owned by 50 teams through email rules, as a large org's are: stage B's team
 * model-mix check goes over a team's developers at every hour it judges, so 80,000 in one team
 * (all of them unattributed) would measure that instead of the snapshots.
 */
const TEAMS = 50;
const CONFIG = [
  'org: acme',
  // The test's posts carry TEST_INGEST_KEY (postJson); 16 requests of 5,000 records, unthrottled.
  'sources:',
  `  - { name: test-client, keys: [${keyHash(TEST_INGEST_KEY)}], rate_limit: { requests_per_second: 1000, burst: 1000 } }`,
  'teams:',
  ...Array.from({ length: TEAMS }, (_, t) => `  - id: t${t}`),
  'ownership:',
  ...Array.from({ length: TEAMS }, (_, t) => `  - match: { email: "*@t${t}.example" }\n    team: t${t}`),
].join('\n');

interface Health {
  status: string;
  lag: Record<string, number>;
  detector: { snapshot_failures: number; failing_partitions: string[]; last_snapshot_error: unknown; last_snapshot_at: string | null };
}

interface Loaded {
  msg: string;
  component?: string;
  partition?: number;
  offset?: string | null;
  parts?: number;
  bytes?: number;
}

// A detector state past the size one chdb row takes, through the HTTP port: it is snapshotted in
// parts, the commits keep up (lag 0), /healthz says so, and a restart restores it whole.
describe('embedded detector snapshots past one row', () => {
  let around: Surroundings;
  let burnrate: BurnrateProcess | undefined;

  beforeAll(async () => {
    around = await startSurroundings();
    await writeFile(around.env.BURNRATE_CONFIG as string, `${CONFIG}\n`);
  });

  afterAll(async () => {
    await burnrate?.stop();
    await around?.close();
  });

  const health = async (): Promise<Health> => (await (await fetch(`${burnrate!.url}/healthz`)).json()) as Health;

  it(`saves and restores the state of ${DEVELOPERS.toLocaleString('en-US')} developers, committing as it goes`, async () => {
    burnrate = await startBurnrate(around.env);
    // One call each, cents: no alert, every developer a key of its own.
    const start = Date.now() - 30 * 60_000;
    for (let from = 0; from < DEVELOPERS; from += RECORDS_PER_REQUEST) {
      const records = Array.from({ length: RECORDS_PER_REQUEST }, (_, j) => {
        const i = from + j;
        return {
          event_id: `big-state-${i}`,
          occurred_at: new Date(start + i * 10).toISOString(),
          developer_email: `dev-${i}@t${i % TEAMS}.example`,
          model: 'claude-sonnet-4-5',
          session_id: `big-state-session-${i}`,
          cost_usd: 0.01,
        };
      });
      expect(await postJson(`${burnrate.url}/v1/events`, records)).toEqual({
        status: 200,
        body: { accepted: RECORDS_PER_REQUEST, duplicates: 0, rejected: [] },
      });
    }

    // Committed through the last event: a snapshot holding all of it was saved.
    const settled = await waitUntil(
      async () => {
        const h = await health();
        return h.lag.detector === 0 && h.lag.team_detector === 0 && h.detector.last_snapshot_at !== null ? h : undefined;
      },
      { timeoutMs: 180_000, intervalMs: 500, message: 'the detector to commit through the last event' },
    );
    expect(settled).toMatchObject({ status: 'ok', detector: { snapshot_failures: 0, failing_partitions: [], last_snapshot_error: null } });
    expect(await burnrate.stop()).toBe(0);

    burnrate = await startBurnrate(around.env, 120_000);
    const loaded = burnrate.logs
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as Loaded)
      .find((l) => l.msg === 'partition state loaded' && l.component === 'detector');
    // The whole state, past what one row took, in parts, from the offset of the last event.
    expect(loaded).toMatchObject({ partition: 0, offset: String(DEVELOPERS - 1) });
    expect(loaded?.bytes).toBeGreaterThan(OLD_ROW_LIMIT_BYTES);
    expect(loaded?.parts).toBeGreaterThan(OLD_ROW_LIMIT_BYTES / (8 * 1024 * 1024));
    // Nothing to replay: the group's position was committed with the snapshot.
    expect(await health()).toMatchObject({ status: 'ok', lag: { detector: 0 }, detector: { snapshot_failures: 0 } });
  }, 300_000);
});
