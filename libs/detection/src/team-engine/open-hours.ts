import type { UsageRollup } from '@burnrate/schemas';
import type { SourceTotals } from './source-totals.ts';

export interface TeamHour {
  org: string;
  team: string;
  developer: string;
  model: string;
  hour: number;
  /** By source (`topic:partition`). */
  sources: Record<string, SourceTotals>;
}

/**
 * The open team×developer×model hours (the snapshot's `hours`, by
 * `org \u001f team \u001f developer \u001f model \u001f hour`), with the hour of the last rollup
 * remembered: rollups in a row mostly carry the same team, developer, model and hour, and the
 * joined key (built, then looked up) was the dearest part of a rollup.
 */
export interface OpenHours {
  /** The open hour of the rollup's key, created when new. */
  open(r: UsageRollup, hour: number): TeamHour;
  /** The key of the hour the last open() returned. */
  lastKey(): string;
  /** Drops the hours closed through `closedThrough`: nothing may change them any more. */
  dropClosed(closedThrough: number): void;
  /** Takes a restored snapshot's hours as the ones held. */
  adopt(hours: Record<string, TeamHour>): void;
}

export function createOpenHours(initial: Record<string, TeamHour>): OpenHours {
  let hours = initial;
  const last = { org: '', team: '', developer: '', model: '', hour: Number.NaN, key: '', h: null as TeamHour | null };

  return {
    open(r, hour) {
      if (
        last.h !== null &&
        last.hour === hour &&
        last.developer === r.developer &&
        last.model === r.model &&
        last.team === r.team &&
        last.org === r.org
      ) {
        return last.h;
      }
      const key = `${r.org}\u001f${r.team}\u001f${r.developer}\u001f${r.model}\u001f${hour}`;
      let h = hours[key];
      if (h === undefined) {
        h = { org: r.org, team: r.team, developer: r.developer, model: r.model, hour, sources: {} };
        hours[key] = h;
      }
      last.org = r.org;
      last.team = r.team;
      last.developer = r.developer;
      last.model = r.model;
      last.hour = hour;
      last.key = key;
      last.h = h;
      return h;
    },

    lastKey: () => last.key,

    dropClosed(closedThrough) {
      for (const key in hours) {
        if ((hours[key] as TeamHour).hour <= closedThrough) delete hours[key];
      }
      last.h = null;
    },

    adopt(next) {
      hours = next;
      last.h = null;
    },
  };
}
