/** `teams[2].slack.channel` for ['teams', 2, 'slack', 'channel']; `(root)` for the file as a whole. */
export function formatPath(path: readonly PropertyKey[]): string {
  if (path.length === 0) return '(root)';
  return path.map((p, i) => (typeof p === 'number' ? `[${p}]` : i === 0 ? String(p) : `.${String(p)}`)).join('');
}
