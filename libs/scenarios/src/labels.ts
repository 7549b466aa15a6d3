import type { AnomalyKind } from '@burnrate/schemas';

/**
 * Ground truth written next to a generated scenario (labels.json) and read by the eval. Times are
 * ISO instants in UTC. A subject lists the fields a detection must name; `also_accept` lists other
 * subjects that are an equally correct detection of the same incident (a runaway batch job caught
 * on its team's spend rather than on its API key).
 */
export interface LabelSubject {
  org: string;
  team: string;
  developer?: string;
  session?: string;
  model?: string;
}

export interface IncidentLabel {
  /** `<story>/<kind>`: one row per kind an incident must raise. */
  id: string;
  story: string;
  kind: AnomalyKind;
  subject: LabelSubject;
  also_accept: LabelSubject[];
  /** When the story begins (the agent's last human prompt, the deploy, the first bad hour). */
  story_start: string;
  /**
   * When the condition the detector is specified to catch first holds in the events, computed from
   * the generated events and the scenario's own settings (e.g. 2 h without a human turn off-hours
   * for runaway_session, the first call above 150k input tokens for context_bloat). Time to detect
   * is measured from here.
   */
  start: string;
  /** When the incident stops; anomalies on its subject until a day after it are explained by it. */
  end: string;
  /** Time-to-detect target, when the issue sets one. */
  within_ms: number | null;
  note: string;
}

export interface DecoyLabel {
  id: string;
  /** Anomalies whose subject lies within this one (same team; same developer when given) count against the decoy. */
  subject: LabelSubject;
  from: string;
  to: string;
  note: string;
}

export interface ScenarioLabels {
  seed: number;
  org: string;
  period: { from: string; to: string };
  weeks: number;
  teams: string[];
  incidents: IncidentLabel[];
  decoys: DecoyLabel[];
}
