import { type Anomaly, type AnomalyState, lifecycleOf } from '@burnrate/schemas';

/** How one detector kind did for one team: what people made of the episodes it raised. */
export interface PrecisionRow {
  kind: string;
  team: string;
  /** Episodes active in the period (a version detected in it). */
  episodes: number;
  /** Episodes someone acknowledged at least once. */
  acknowledged: number;
  /** Episodes resolved by a human, by the reason given last. */
  resolved_real: number;
  resolved_expected: number;
  resolved_noise: number;
  /** noise / (real + expected + noise); null while no episode was resolved with a reason. */
  noise_share: number | null;
}

export interface PrecisionReport {
  since: string;
  until: string;
  /** Per kind and team, by kind then team. */
  rows: PrecisionRow[];
  /** Every row summed (kind and team `*`). */
  total: PrecisionRow;
}

type Episode = Pick<Anomaly, 'id' | 'kind' | 'subject'>;

/**
 * The report from the period's episodes and their decisions (all of them, whenever made: an
 * episode of last week resolved today counts as resolved). Pure, so the tally is tested on its own.
 */
export function precisionReport(
  episodes: readonly Episode[],
  decisionsById: ReadonlyMap<string, readonly AnomalyState[]>,
  period: { since: Date; until: Date },
): PrecisionReport {
  const rows = new Map<string, PrecisionRow>();
  const total = emptyRow('*', '*');
  for (const episode of episodes) {
    const key = `${episode.kind}\u0000${episode.subject.team}`;
    let row = rows.get(key);
    if (!row) rows.set(key, (row = emptyRow(episode.kind, episode.subject.team)));
    const decisions = decisionsById.get(episode.id) ?? [];
    const lifecycle = lifecycleOf(decisions, period.until);
    for (const r of [row, total]) {
      r.episodes += 1;
      if (decisions.some((d) => d.action === 'acknowledged')) r.acknowledged += 1;
      if (lifecycle.state === 'resolved' && lifecycle.reason === 'real') r.resolved_real += 1;
      if (lifecycle.state === 'resolved' && lifecycle.reason === 'expected') r.resolved_expected += 1;
      if (lifecycle.state === 'resolved' && lifecycle.reason === 'noise') r.resolved_noise += 1;
    }
  }
  const sorted = [...rows.values()].sort((a, b) =>
    a.kind < b.kind ? -1 : a.kind > b.kind ? 1 : a.team < b.team ? -1 : a.team > b.team ? 1 : 0,
  );
  for (const r of [...sorted, total]) r.noise_share = noiseShare(r);
  return { since: period.since.toISOString(), until: period.until.toISOString(), rows: sorted, total };
}

function emptyRow(kind: string, team: string): PrecisionRow {
  return { kind, team, episodes: 0, acknowledged: 0, resolved_real: 0, resolved_expected: 0, resolved_noise: 0, noise_share: null };
}

function noiseShare(r: PrecisionRow): number | null {
  const judged = r.resolved_real + r.resolved_expected + r.resolved_noise;
  return judged === 0 ? null : Math.round((r.resolved_noise / judged) * 10_000) / 10_000;
}
