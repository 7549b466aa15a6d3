export {
  type BudgetFacts,
  DEFAULT_SEED,
  DEFAULT_START,
  DEFAULT_WEEKS,
  generateScenario,
  type Scenario,
  type ScenarioOptions,
} from './generate.ts';
export type { DecoyLabel, IncidentLabel, LabelSubject, ScenarioLabels } from './labels.ts';
export { DEFAULT_SCENARIO_DIR, FILES, readScenario, type ScenarioOnDisk, writeScenario } from './scenario-files.ts';
export {
  type DecoyResult,
  type Episode,
  type Evaluation,
  evaluate,
  type Finding,
  type IncidentResult,
  sameSubject,
  type Target,
  TARGET_FALSE_PAGES_PER_TEAM_WEEK,
  type TeamResult,
  toEpisodes,
  touches,
} from './score.ts';
export { subjectText, summarizeScenario, table } from './summary.ts';
