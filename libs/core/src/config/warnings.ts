import { isDateBound, type DetectorKindName } from './detectors.ts';
import { type ConfigIssue, formatPath } from './issues.ts';
import { detectorSettings } from './lookup.ts';
import { receiversOf } from './receivers.ts';
import type { Config } from './schema.ts';

/**
 * Settings that parse but are probably not what the author meant: a warning cap at or above its
 * critical cap, an override or planned change for a team that does not exist, a detector turned
 * off for everybody. `burnrate config check` prints them; they never stop Burnrate.
 */
export function configWarnings(config: Config, now: number = Date.now()): ConfigIssue[] {
  const warnings: ConfigIssue[] = [];
  const teams = new Set(config.teams.map((t) => t.id));
  const warn = (path: PropertyKey[], message: string): void => {
    warnings.push({ path: formatPath(path), message });
  };

  const checkCaps = (
    path: PropertyKey[],
    s: { warning_usd?: number | undefined; critical_usd?: number | undefined },
    resolved: { warning_usd: number; critical_usd: number },
  ): void => {
    if (resolved.warning_usd >= resolved.critical_usd && (s.warning_usd !== undefined || s.critical_usd !== undefined)) {
      warn(
        path,
        `warning_usd (${resolved.warning_usd}) is not below critical_usd (${resolved.critical_usd}), so the warning never fires on its own`,
      );
    }
  };
  checkCaps(['detectors', 'session_cost'], config.detectors.session_cost, config.detectors.session_cost);
  const { warning_share, critical_share } = config.detectors.budget_forecast;
  if (warning_share >= critical_share) {
    warn(['detectors', 'budget_forecast'], `warning_share (${warning_share}) is not below critical_share (${critical_share})`);
  }

  config.detectors.overrides.forEach((o, i) => {
    if (o.match.team !== undefined && !teams.has(o.match.team)) {
      warn(['detectors', 'overrides', i, 'match', 'team'], `no team "${o.match.team}" in teams; this override never applies`);
    }
    if (o.session_cost) {
      const subject = { team: o.match.team ?? '', developer: o.match.developer };
      checkCaps(['detectors', 'overrides', i, 'session_cost'], o.session_cost, detectorSettings(config, 'session_cost', subject));
    }
  });
  config.detectors.planned_changes.forEach((p, i) => {
    if (p.team !== undefined && !teams.has(p.team)) warn(['detectors', 'planned_changes', i, 'team'], `no team "${p.team}" in teams`);
    if (p.from === p.to && isDateBound(p.to)) {
      const next = new Date(Date.parse(`${p.to}T00:00:00Z`) + 86_400_000).toISOString().slice(0, 10);
      warn(
        ['detectors', 'planned_changes', i, 'to'],
        `to (${p.to}) is the same day as from: to is exclusive (the first day the change is over), so this covers nothing; for the one day ${p.from} write to: ${next}`,
      );
    }
  });
  for (const kind of Object.keys(config.detectors) as (
    DetectorKindName | 'overrides' | 'planned_changes' | 'allowed_lateness' | 'backfill'
  )[]) {
    const s = config.detectors[kind];
    if (typeof s === 'object' && !Array.isArray(s) && 'enabled' in s && s.enabled === false) {
      warn(['detectors', kind, 'enabled'], `${kind} is off for every team`);
    }
  }
  config.teams.forEach((t, i) => {
    if (receiversOf(t).length === 0)
      warn(['teams', i], `team "${t.id}" has no receivers (slack, email or receivers): its anomalies reach nobody`);
  });
  if (config.ingest.auth === 'keys' && config.sources.length === 0) {
    warn(['sources'], 'ingest.auth is keys but no source has a key: every post is refused (burnrate keys new makes one)');
  }
  if (config.ingest.auth === 'none' && config.sources.length > 0) {
    warn(['ingest', 'auth'], 'ingest.auth is none: the sources and their keys are not checked, anyone who reaches the port may post');
  }
  config.sources.forEach((source, i) => {
    const usable = source.keys.filter((k) => k.revoked_at === undefined && (k.expires_at === undefined || Date.parse(k.expires_at) > now));
    if (usable.length === 0) warn(['sources', i, 'keys'], `source "${source.name}" has no key that is neither revoked nor expired`);
  });
  return warnings;
}
