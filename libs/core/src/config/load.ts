import { readFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { LineCounter, parseDocument } from 'yaml';
import type { z } from 'zod';
import { BurnrateError } from '../errors.ts';
import { applyIdentities } from './identities.ts';
import { formatPath } from './path.ts';
import type { ReceiverSchema } from './receivers.ts';
import { type Config, ConfigSchema, createConfigSchema } from './schema.ts';

export interface ConfigIssue {
  /** `teams[2].slack.channel`, or `(root)` for the file as a whole. */
  path: string;
  message: string;
  /** 1-based line in the YAML file, when the path points at a node that exists. */
  line?: number;
}

export class ConfigError extends BurnrateError {
  readonly issues: ConfigIssue[];
  readonly source: string;
  constructor(source: string, issues: ConfigIssue[]) {
    super('CONFIG_INVALID', `${source} is not a valid Burnrate config:\n${formatIssues(issues)}`, { details: { issues } });
    this.name = 'ConfigError';
    this.issues = issues;
    this.source = source;
  }
}

export { formatPath } from './path.ts';

export function formatIssues(issues: readonly ConfigIssue[]): string {
  return issues.map((i) => `  ${i.path}${i.line ? ` (line ${i.line})` : ''}: ${i.message}`).join('\n');
}

function describeIssue(issue: z.core.$ZodIssue): string {
  if (issue.code === 'unrecognized_keys')
    return `unknown key${issue.keys.length > 1 ? 's' : ''} ${issue.keys.map((k) => `"${k}"`).join(', ')}`;
  if (issue.code === 'invalid_type' && issue.input === undefined) return `is required (${issue.expected})`;
  return issue.message;
}

export interface ParseConfigOptions {
  /**
   * Checks each receiver's settings: the channel registry's `receiverSchema` from
   * @burnrate/notify, passed by processes that send notifications and by `burnrate config check`.
   * Without it a receiver only needs a channel name.
   */
  receiver?: ReceiverSchema;
}

/**
 * Parses and validates a burnrate.yaml text. `source` names it in errors (a path, or `<inline>`).
 * Throws ConfigError listing every problem with its path and line, never just the first.
 */
export function parseConfig(text: string, source = '<inline>', options: ParseConfigOptions = {}): Config {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false });
  if (doc.errors.length > 0) {
    throw new ConfigError(
      source,
      doc.errors.map((e) => ({ path: '(yaml)', message: e.message.split('\n')[0] ?? e.message, line: e.linePos?.[0].line })),
    );
  }
  const raw: unknown = doc.toJS() ?? {};
  // reportInput tells "missing" (input undefined) apart from "wrong type" in describeIssue.
  const schema = options.receiver ? createConfigSchema(options.receiver) : ConfigSchema;
  const result = schema.safeParse(raw, { reportInput: true });
  if (result.success) return result.data;
  throw new ConfigError(
    source,
    result.error.issues.map((issue) => {
      const offset = nodeOffset(doc, issue.path);
      return {
        path: formatPath(issue.path),
        message: describeIssue(issue),
        ...(offset !== undefined ? { line: lineCounter.linePos(offset).line } : {}),
      };
    }),
  );
}

/**
 * Where the node at `path` starts in the text; for a key that is missing, where the object that
 * lacks it starts (never the whole file), so "is required" still points at a line.
 */
function nodeOffset(doc: ReturnType<typeof parseDocument>, path: readonly PropertyKey[]): number | undefined {
  for (let depth = path.length; depth > 0; depth--) {
    const node = doc.getIn(path.slice(0, depth), true) as { range?: [number, number, number] } | undefined;
    if (node && typeof node === 'object' && 'range' in node && node.range) return node.range[0];
  }
  return undefined;
}

export async function loadConfig(path: string, options: ParseConfigOptions = {}): Promise<Config> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (cause) {
    throw new BurnrateError('CONFIG_NOT_FOUND', `cannot read config file ${path}: ${(cause as Error).message}`, { cause });
  }
  const config = parseConfig(text, path, options);
  if (config.identities === undefined) return config;
  const file = resolve(dirname(path), config.identities);
  let csv: string;
  try {
    csv = await readFile(file, 'utf8');
  } catch (cause) {
    throw new ConfigError(path, [
      { path: 'identities', message: `cannot read ${file}: ${(cause as NodeJS.ErrnoException).code ?? String(cause)}` },
    ]);
  }
  const applied = applyIdentities(config, csv, config.identities);
  if ('issues' in applied) throw new ConfigError(path, applied.issues);
  return applied.config;
}
