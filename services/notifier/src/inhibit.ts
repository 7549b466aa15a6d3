import type { InhibitRule } from '@burnrate/core';
import type { Anomaly } from '@burnrate/schemas';

function matches(m: InhibitRule['source'], a: Anomaly): boolean {
  const has = (wanted: string | readonly string[] | undefined, value: string): boolean =>
    wanted === undefined || (typeof wanted === 'string' ? wanted === value : wanted.includes(value));
  return has(m.kind, a.kind) && has(m.severity, a.severity);
}

export interface Inhibition {
  by: Anomaly;
  rule: InhibitRule;
}

/**
 * The open anomaly that inhibits `target`, if any: one matching a rule's source, not the target
 * itself, with every label in `equal` present and the same on both. A label the target lacks
 * (a team-level anomaly has no session) never matches, so a rule cannot silence more than it names.
 */
export function inhibitionOf(target: Anomaly, open: readonly Anomaly[], rules: readonly InhibitRule[]): Inhibition | undefined {
  for (const rule of rules) {
    if (!matches(rule.target, target)) continue;
    for (const source of open) {
      if (source.id === target.id || source.status !== 'open' || !matches(rule.source, source)) continue;
      if (rule.equal.every((l) => target.subject[l] !== undefined && source.subject[l] === target.subject[l])) return { by: source, rule };
    }
  }
  return undefined;
}
