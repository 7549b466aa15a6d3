import { z } from 'zod';
import type { ReceiverSchema } from './receivers.ts';
import { ConfigSchema, createConfigSchema } from './schema.ts';

/**
 * The JSON Schema of burnrate.yaml as an editor sees it (the input side: durations as strings,
 * defaults optional), for yaml-language-server or VS Code's `yaml.schemas`. With `receiver` (the
 * channel registry's schema) it describes each channel's receiver settings too.
 */
export function configJsonSchema(options: { receiver?: ReceiverSchema } = {}): Record<string, unknown> {
  const config = options.receiver ? createConfigSchema(options.receiver) : ConfigSchema;
  const schema = z.toJSONSchema(config, { io: 'input', unrepresentable: 'any' }) as Record<string, unknown>;
  return { ...schema, title: 'burnrate.yaml', $id: 'https://burnrate.dev/schema/burnrate.yaml.json' };
}
