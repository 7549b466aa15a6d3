// `npm run scenarios [-- --seed N --weeks N --scale full|small --out DIR]`: writes a synthetic
// org's burnrate.yaml, events.ndjson and labels.json (default .burnrate/scenarios) and prints what
// is in them.
import { parseArgs } from 'node:util';
import {
  DEFAULT_SCENARIO_DIR,
  DEFAULT_SEED,
  DEFAULT_START,
  DEFAULT_WEEKS,
  generateScenario,
  summarizeScenario,
  writeScenario,
} from '@burnrate/scenarios';

const { values } = parseArgs({
  options: {
    seed: { type: 'string', default: String(DEFAULT_SEED) },
    start: { type: 'string', default: DEFAULT_START },
    weeks: { type: 'string', default: String(DEFAULT_WEEKS) },
    scale: { type: 'string', default: 'full' },
    out: { type: 'string', default: DEFAULT_SCENARIO_DIR },
  },
});

const seed = Number(values.seed);
const weeks = Number(values.weeks);
if (!Number.isInteger(seed) || !Number.isInteger(weeks)) {
  console.error(`--seed and --weeks must be integers, got ${values.seed} and ${values.weeks}`);
  process.exit(2);
}
if (values.scale !== 'full' && values.scale !== 'small') {
  console.error(`--scale must be full or small, got ${values.scale}`);
  process.exit(2);
}

const scenario = generateScenario({ seed, start: values.start, weeks, scale: values.scale });
await writeScenario(scenario, values.out);
console.log(summarizeScenario(scenario));
console.log(`\nwrote ${values.out}/{burnrate.yaml, events.ndjson, labels.json}`);
