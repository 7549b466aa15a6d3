import { HOUR_MS } from '../buckets/hourly.ts';
import type { DetectorEnv } from '../detector.ts';

export const KIND = 'model_mix_drift';

export interface ModelMixDriftSettings {
  enabled: boolean;
  min_impact_usd: number;
  min_share_increase_points: number;
  baseline_weeks: number;
  max_p_value: number;
}

export type ModelMixDriftConfig = DetectorEnv<ModelMixDriftSettings>;

export const DAY_MS = 24 * HOUR_MS;

/** The baselines' time constant in ms: `baseline_weeks` weeks. */
export const timeConstant = (s: ModelMixDriftSettings): number => 7 * s.baseline_weeks * DAY_MS;
