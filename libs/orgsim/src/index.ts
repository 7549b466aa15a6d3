export { localDay, offsetMs, shiftDay, weekdayOf, zonedInstant } from './clock.ts';
export {
  type CriticalDeadline,
  generateOrgsim,
  ORGSIM_DEFAULT_SEED,
  ORGSIM_DEFAULT_START,
  ORGSIM_DEFAULT_WEEKS,
  type OrgsimLabels,
  type OrgsimOptions,
  type OrgsimScenario,
} from './generate.ts';
export { drawOrg, MODELS, type OrgChart, type Person, type Role, type Team } from './org.ts';
export { Random } from './random.ts';
