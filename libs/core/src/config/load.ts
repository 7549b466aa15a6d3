import { readFile } from 'node:fs/promises';
import { LineCounter, parseDocument } from 'yaml';
import type { z } from 'zod';
import { BurnrateError } from '../errors.ts';
import { type Config, ConfigSchema } from './schema.ts';

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

export function formatPath(path: readonly PropertyKey[]): string {
  if (path.length === 0) return '(root)';
  return path.map((p, i) => (typeof p === 'number' ? `[${p}]` : i === 0 ? String(p) : `.${String(p)}`)).join('');
}

export function formatIssues(issues: readonly ConfigIssue[]): string {
  return issues.map((i) => `  ${i.path}${i.line ? ` (line ${i.line})` : ''}: ${i.message}`).join('\n');
}

function describeIssue(issue: z.core.$ZodIssue): string {
  if (issue.code === 'unrecognized_keys')
    return `unknown key${issue.keys.length > 1 ? 's' : ''} ${issue.keys.map((k) => `"${k}"`).join(', ')}`;
  if (issue.code === 'invalid_type' && issue.input === undefined) return `is required (${issue.expected})`;
  return issue.message;
}

/**
 * Parses and validates a burnrate.yaml text. `source` names it in errors (a path, or `<inline>`).
 * Throws ConfigError listing every problem with its path and line, never just the first.
 */
export function parseConfig(text: string, source = '<inline>'): Config {
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
  const result = ConfigSchema.safeParse(raw, { reportInput: true });
  if (result.success) return result.data;
  throw new ConfigError(
    source,
    result.error.issues.map((issue) => {
      const node = doc.getIn(issue.path, true) as { range?: [number, number, number] } | undefined;
      const offset = node && typeof node === 'object' && 'range' in node ? node.range?.[0] : undefined;
      return {
        path: formatPath(issue.path),
        message: describeIssue(issue),
        ...(offset !== undefined ? { line: lineCounter.linePos(offset).line } : {}),
      };
    }),
  );
}

export async function loadConfig(path: string): Promise<Config> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (cause) {
    throw new BurnrateError('CONFIG_NOT_FOUND', `cannot read config file ${path}: ${(cause as Error).message}`, { cause });
  }
  return parseConfig(text, path);
}
