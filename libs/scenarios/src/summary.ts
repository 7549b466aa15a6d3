import type { Scenario } from './generate.ts';

/** A human-readable account of a generated scenario: what is in the stream, what should be found. */
export function summarizeScenario(s: Scenario): string {
  const lines: string[] = [];
  const { labels } = s;
  const byTeam = new Map<string, { events: number; usd: number }>();
  const bySource = new Map<string, number>();
  const developers = new Set<string>();
  const sessions = new Set<string>();
  for (const e of s.events) {
    const t = byTeam.get(e.team) ?? { events: 0, usd: 0 };
    t.events += 1;
    t.usd += e.cost_usd;
    byTeam.set(e.team, t);
    const key = `${e.source}/${e.tool}`;
    bySource.set(key, (bySource.get(key) ?? 0) + 1);
    developers.add(e.developer);
    if (e.session_id !== undefined) sessions.add(e.session_id);
  }
  const first = s.events[0]?.occurred_at ?? '-';
  const last = s.events[s.events.length - 1]?.occurred_at ?? '-';
  lines.push(`scenario seed ${labels.seed}: ${s.events.length} events, ${first} .. ${last} (${labels.weeks} weeks)`);
  lines.push(`  ${developers.size} identities, ${sessions.size} sessions`);
  lines.push(
    '  by source/tool: ' +
      [...bySource.entries()]
        .sort()
        .map(([k, n]) => `${k} ${n}`)
        .join(', '),
  );
  lines.push('');
  lines.push(
    table(
      [
        'team',
        'zone',
        'events',
        'spend usd',
        'budget usd',
        'warm-up usd/day',
        `${s.budgets[0]?.month ?? ''} to date`,
        'projected',
        '% of budget',
      ],
      [...byTeam.entries()]
        .sort(([a], [b]) => a.localeCompare(b))
        .map(([team, t]) => {
          const b = s.budgets.find((x) => x.team === team);
          const zone = s.config.teams.find((x) => x.id === team)?.timezone ?? '-';
          return [
            team,
            zone,
            String(t.events),
            t.usd.toFixed(2),
            b ? String(b.budget_usd) : '-',
            b ? b.warmup_daily_usd.toFixed(2) : '-',
            b ? b.month_to_date_usd.toFixed(2) : '-',
            b ? b.projected_usd.toFixed(2) : '-',
            b ? `${Math.round((100 * b.projected_usd) / b.budget_usd)}%` : '-',
          ];
        }),
    ),
  );
  lines.push('');
  lines.push('labelled incidents:');
  lines.push(
    table(
      ['id', 'subject', 'story start', 'detectable from', 'target'],
      labels.incidents.map((i) => [
        i.id,
        subjectText(i.subject),
        i.story_start,
        i.start,
        i.within_ms === null ? '-' : `<= ${Math.round(i.within_ms / 60_000)} min`,
      ]),
    ),
  );
  lines.push('decoys (must stay at info or below):');
  lines.push(
    table(
      ['id', 'subject', 'from', 'to'],
      labels.decoys.map((d) => [d.id, subjectText(d.subject), d.from, d.to]),
    ),
  );
  return lines.join('\n');
}

export function subjectText(s: {
  team: string;
  developer?: string | undefined;
  session?: string | undefined;
  model?: string | undefined;
}): string {
  const parts = [`team=${s.team}`];
  if (s.developer !== undefined) parts.push(`dev=${s.developer}`);
  if (s.session !== undefined) parts.push(`session=${s.session.slice(0, 8)}`);
  if (s.model !== undefined) parts.push(`model=${s.model}`);
  return parts.join(' ');
}

/** A plain text table, columns padded to their widest cell. */
export function table(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: readonly string[]): string =>
    cells
      .map((c, i) => c.padEnd(widths[i] ?? 0))
      .join('  ')
      .trimEnd();
  return [line(header), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)].map((l) => `  ${l}`).join('\n');
}
