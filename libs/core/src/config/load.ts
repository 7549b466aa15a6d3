import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { LineCounter, parseDocument } from 'yaml';
import type { z } from 'zod';
import { BurnrateError } from '../errors.ts';
import { applyIdentities, type IdentityTeams } from './identities.ts';
import { type ConfigIssue, formatIssues, formatPath } from './issues.ts';
import type { ReceiverSchema } from './receivers.ts';
import { configReferenceIssues } from './references.ts';
import { type Config, ConfigSchema, createConfigSchema } from './schema.ts';
import { configWarnings } from './warnings.ts';

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

export { type ConfigIssue, configReport, formatIssues, formatPath } from './issues.ts';

function describeIssue(issue: z.core.$ZodIssue): string {
  if (issue.code === 'unrecognized_keys')
    return `unknown key${issue.keys.length > 1 ? 's' : ''} ${issue.keys.map((k) => `"${k}"`).join(', ')}`;
  if (issue.code === 'invalid_type' && issue.input === undefined) return `is required (${issue.expected})`;
  if (issue.code === 'invalid_union') {
    // Of a value that may take several shapes (a key's hash, or an object with it), what is wrong
    // with it in the shape its type picks, rather than zod's bare "Invalid input".
    const picked = issue.errors.find((branch) => branch.some((i) => i.code !== 'invalid_type' || i.path.length > 0));
    if (picked?.[0] !== undefined) return describeIssue(picked[0]);
  }
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

interface DocumentCheck {
  /** The file as written (plain data), when its YAML parses. */
  raw: unknown;
  problems: ConfigIssue[];
  config?: Config;
}

/**
 * Every problem of a burnrate.yaml text at once: the schema's (each field, each object's checks
 * across its fields) and those between sections (references.ts), each with its line. A YAML
 * syntax error stops there: what follows it cannot be read reliably.
 */
function checkDocument(text: string, options: ParseConfigOptions): DocumentCheck {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false });
  if (doc.errors.length > 0) {
    return {
      raw: undefined,
      problems: doc.errors.map((e) => ({ path: '(yaml)', message: e.message.split('\n')[0] ?? e.message, line: e.linePos?.[0].line })),
    };
  }
  const raw: unknown = doc.toJS() ?? {};
  const issueAt = (path: readonly PropertyKey[], message: string): ConfigIssue => {
    const offset = nodeOffset(doc, path);
    return { path: formatPath(path), message, ...(offset !== undefined ? { line: lineCounter.linePos(offset).line } : {}) };
  };
  // reportInput tells "missing" (input undefined) apart from "wrong type" in describeIssue.
  const schema = options.receiver ? createConfigSchema(options.receiver) : ConfigSchema;
  const result = schema.safeParse(raw, { reportInput: true });
  const problems = [
    ...(result.success ? [] : result.error.issues.map((issue) => issueAt(issue.path, describeIssue(issue)))),
    ...configReferenceIssues(raw).map((issue) => issueAt(issue.path, issue.message)),
  ];
  // In file order; a problem with no line (none in practice) keeps its place after those with one.
  problems.sort((a, b) => (a.line ?? Number.MAX_SAFE_INTEGER) - (b.line ?? Number.MAX_SAFE_INTEGER));
  return { raw, problems, ...(result.success && problems.length === 0 ? { config: result.data } : {}) };
}

/**
 * Parses and validates a burnrate.yaml text. `source` names it in errors (a path, or `<inline>`).
 * Throws ConfigError listing every problem with its path and line, never just the first. The
 * identities CSV a file may name is read by loadConfig, not here.
 */
export function parseConfig(text: string, source = '<inline>', options: ParseConfigOptions = {}): Config {
  const checked = checkDocument(text, options);
  if (checked.config === undefined) throw new ConfigError(source, checked.problems);
  return checked.config;
}

/** What `burnrate config check` and every reload find in a burnrate.yaml. */
export interface ConfigCheck {
  /** The config, when the file has no problem. */
  config?: Config;
  /** Every problem, in one pass: the schema's, those between sections, then the identities CSV's. */
  problems: ConfigIssue[];
  /** Settings that parse but are probably not what the author meant (warnings.ts); only for a valid file. */
  warnings: ConfigIssue[];
  /** SHA-256 of what was read: the YAML text and, when it names one, the identities CSV. */
  hash: string;
  /** The files read (burnrate.yaml, the identities CSV): what a watcher watches. */
  files: string[];
}

/**
 * Reads and checks `path` and the identities CSV it names. Throws only when burnrate.yaml itself
 * cannot be read (CONFIG_NOT_FOUND); every problem of its content is in the result.
 */
export async function checkConfigFile(path: string, options: ParseConfigOptions = {}): Promise<ConfigCheck> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (cause) {
    throw new BurnrateError('CONFIG_NOT_FOUND', `cannot read config file ${path}: ${(cause as Error).message}`, { cause });
  }
  const digest = createHash('sha256').update(text);
  const checked = checkDocument(text, options);
  const problems = [...checked.problems];
  const files = [path];
  let config = checked.config;
  const identities = isPlainObject(checked.raw) ? checked.raw.identities : undefined;
  if (typeof identities === 'string' && identities !== '') {
    const file = resolve(dirname(path), identities);
    files.push(file);
    let csv: string | undefined;
    try {
      csv = await readFile(file, 'utf8');
    } catch (cause) {
      problems.push({ path: 'identities', message: `cannot read ${file}: ${(cause as NodeJS.ErrnoException).code ?? String(cause)}` });
    }
    if (csv !== undefined) {
      digest.update('\0').update(csv);
      // Checked against the teams as written even when the rest of the file is invalid, so its
      // problems are not left for a second run.
      const applied = applyIdentities(config ?? { teams: teamsAsWritten(checked.raw) }, csv, identities);
      if ('issues' in applied) problems.push(...applied.issues);
      else if (config !== undefined) config = applied.config as Config;
    }
  }
  const valid = problems.length === 0 ? config : undefined;
  return {
    ...(valid !== undefined ? { config: valid } : {}),
    problems,
    warnings: valid !== undefined ? configWarnings(valid) : [],
    hash: digest.digest('hex'),
    files,
  };
}

const isPlainObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** teams[] of an invalid file, as far as the identities CSV needs them: ids and members. */
function teamsAsWritten(raw: unknown): IdentityTeams['teams'] {
  const teams = isPlainObject(raw) && Array.isArray(raw.teams) ? raw.teams : [];
  return teams.flatMap((team: unknown) => {
    if (!isPlainObject(team) || typeof team.id !== 'string') return [];
    const members = (Array.isArray(team.members) ? team.members : []).flatMap((m: unknown): IdentityTeams['teams'][number]['members'] => {
      if (typeof m === 'string') return [m.toLowerCase()];
      if (isPlainObject(m) && typeof m.email === 'string') {
        const aliases = Array.isArray(m.aliases) ? m.aliases.filter((a): a is string => typeof a === 'string') : [];
        return [{ email: m.email.toLowerCase(), aliases }];
      }
      return [];
    });
    return [{ id: team.id, members }];
  });
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
  const checked = await checkConfigFile(path, options);
  if (checked.config === undefined) throw new ConfigError(path, checked.problems);
  return checked.config;
}
