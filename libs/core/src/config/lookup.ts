import type { Config, SessionCostConfig, TeamConfig } from './schema.ts';

export function findTeam(config: Config, teamId: string): TeamConfig | undefined {
  return config.teams.find((t) => t.id === teamId);
}

/** The team's timezone, else the org's. */
export function teamTimezone(config: Config, teamId: string): string {
  return findTeam(config, teamId)?.timezone ?? config.timezone;
}

/**
 * session_cost thresholds for a subject: the defaults, then every matching override in file
 * order (a developer match after a team match refines it).
 */
export function sessionCostThresholds(config: Config, subject: { team: string; developer: string }): SessionCostConfig {
  let resolved: SessionCostConfig = { ...config.detectors.session_cost };
  for (const o of config.detectors.overrides) {
    if (o.match.team !== undefined && o.match.team !== subject.team) continue;
    if (o.match.developer !== undefined && o.match.developer.toLowerCase() !== subject.developer.toLowerCase()) continue;
    if (o.session_cost) {
      resolved = {
        warning_usd: o.session_cost.warning_usd ?? resolved.warning_usd,
        critical_usd: o.session_cost.critical_usd ?? resolved.critical_usd,
      };
    }
  }
  return resolved;
}
