import { mkdir, open, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { type Config, parseConfig } from '@burnrate/core';
import { UsageEvent } from '@burnrate/schemas';
import type { Scenario } from './generate.ts';
import type { ScenarioLabels } from './labels.ts';

export const DEFAULT_SCENARIO_DIR = '.burnrate/scenarios';

export const FILES = { config: 'burnrate.yaml', events: 'events.ndjson', labels: 'labels.json' } as const;

/** Writes burnrate.yaml, events.ndjson (one event per line, in event-time order) and labels.json. */
export async function writeScenario(scenario: Scenario, dir: string): Promise<void> {
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, FILES.config), scenario.configYaml);
  await writeFile(join(dir, FILES.labels), `${JSON.stringify(scenario.labels, null, 2)}\n`);
  const file = await open(join(dir, FILES.events), 'w');
  try {
    const batch = 5_000;
    for (let i = 0; i < scenario.events.length; i += batch) {
      const lines = scenario.events.slice(i, i + batch).map((e) => JSON.stringify(e));
      await file.write(`${lines.join('\n')}\n`);
    }
  } finally {
    await file.close();
  }
}

export interface ScenarioOnDisk {
  config: Config;
  events: UsageEvent[];
  labels: ScenarioLabels;
}

/** Reads a scenario directory back; every event line is validated, and a bad one names its line. */
export async function readScenario(dir: string): Promise<ScenarioOnDisk> {
  const configPath = join(dir, FILES.config);
  const config = parseConfig(await readFile(configPath, 'utf8'), configPath);
  const labels = JSON.parse(await readFile(join(dir, FILES.labels), 'utf8')) as ScenarioLabels;
  const text = await readFile(join(dir, FILES.events), 'utf8');
  const events: UsageEvent[] = [];
  let line = 0;
  for (const raw of text.split('\n')) {
    line += 1;
    if (raw.trim() === '') continue;
    const parsed = UsageEvent.safeParse(JSON.parse(raw));
    if (!parsed.success)
      throw new Error(`${join(dir, FILES.events)}:${line}: not a UsageEvent: ${parsed.error.issues[0]?.message ?? 'invalid'}`);
    events.push(parsed.data);
  }
  return { config, events, labels };
}
