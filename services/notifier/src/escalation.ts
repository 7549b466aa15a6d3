import { type Config, findTeam, receiversOf, teamCalendar, teamTimezone } from '@burnrate/core';
import { compileCalendar, nextWorkingStart } from '@burnrate/detection';
import type { Anomaly } from '@burnrate/schemas';

/**
 * When an open critical nobody has acknowledged goes further, counted from when it first
 * reached its team:
 *   - to the team's on-call receivers after `escalate_after`, on the wall clock, nights and
 *     weekends included: on-call exists for those hours, and the spend that pages at night
 *     (a weekend agent loop) keeps burning until someone stops it;
 *   - to FinOps after a second `escalate_after`, moved to the team's next working hours when it
 *     falls outside them: FinOps is a daytime function, and a 03:00 email to it stops nothing
 *     that on-call did not.
 * Only criticals escalate; an acknowledgement, a snooze or a resolution stops it.
 */
export function escalationSteps(config: Config, a: Anomaly, sentAtMs: number): { to: 'oncall' | 'finops'; dueMs: number }[] {
  if (a.severity !== 'critical' || a.status !== 'open') return [];
  const after = config.routes.escalate_after;
  const team = findTeam(config, a.subject.team);
  const steps: { to: 'oncall' | 'finops'; dueMs: number }[] = [];
  if (team && receiversOf(team.oncall).length > 0) steps.push({ to: 'oncall', dueMs: sentAtMs + after });
  if (receiversOf(config.finops).length > 0) {
    const cal = compileCalendar(teamCalendar(config, a.subject.team), teamTimezone(config, a.subject.team));
    steps.push({ to: 'finops', dueMs: nextWorkingStart(cal, sentAtMs + 2 * after) });
  }
  return steps;
}
