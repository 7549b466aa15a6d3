export interface ConfigIssue {
  /** `teams[2].slack.channel`, or `(root)` for the file as a whole. */
  path: string;
  message: string;
  /** 1-based line in the YAML file, when the path points at a node that exists. */
  line?: number;
}

/** `teams[2].slack.channel` for ['teams', 2, 'slack', 'channel']; `(root)` for the file as a whole. */
export function formatPath(path: readonly PropertyKey[]): string {
  if (path.length === 0) return '(root)';
  return path.map((p, i) => (typeof p === 'number' ? `[${p}]` : i === 0 ? String(p) : `.${String(p)}`)).join('');
}

export function formatIssues(issues: readonly ConfigIssue[]): string {
  return issues.map((i) => `  ${i.path}${i.line ? ` (line ${i.line})` : ''}: ${i.message}`).join('\n');
}

/**
 * The report `burnrate config check` prints for an invalid file, and a refused reload logs:
 * every problem with its path and line, and how many.
 */
export function configReport(source: string, problems: readonly ConfigIssue[]): string {
  return `${source} is not a valid Burnrate config:\n${formatIssues(problems)}\n${problems.length} problem${problems.length === 1 ? '' : 's'} found.`;
}
