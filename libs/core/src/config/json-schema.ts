import { z } from 'zod';
import { ConfigSchema } from './schema.ts';

/**
 * The JSON Schema of burnrate.yaml as an editor sees it (the input side: durations as strings,
 * defaults optional), for yaml-language-server or VS Code's `yaml.schemas`.
 */
export function configJsonSchema(): Record<string, unknown> {
  const schema = z.toJSONSchema(ConfigSchema, { io: 'input', unrepresentable: 'any' }) as Record<string, unknown>;
  return { ...schema, title: 'burnrate.yaml', $id: 'https://burnrate.dev/schema/burnrate.yaml.json' };
}
