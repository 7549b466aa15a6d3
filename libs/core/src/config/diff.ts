import { formatPath } from './issues.ts';
import type { Config } from './schema.ts';

/** One setting a reload changed: where, and its value before and after (secrets redacted). */
export interface ConfigChange {
  path: string;
  from: unknown;
  to: unknown;
}

/** What stands for a value that must not reach a log, and for a value that is not set. */
export const REDACTED = '[redacted]';
const UNSET = '(unset)';

// Values under these keys are secrets or carry them: a webhook's URL holds its token, a source
// key's hash identifies the key. `*_env` fields name an environment variable and are kept.
const SECRET_KEY = /^(url|sha256)$|(secret|token|password|routing_key)$/;
const isSecretKey = (key: PropertyKey): boolean =>
  typeof key === 'string' && !key.endsWith('_env') && key !== 'public_url' && SECRET_KEY.test(key);

const isPlain = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const isScalar = (v: unknown): boolean => v === null || (typeof v !== 'object' && typeof v !== 'function');

function redact(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(redact);
  if (!isPlain(value)) return value;
  return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, isSecretKey(k) ? REDACTED : redact(v)]));
}

/**
 * Every setting that differs between two configs, in file order, as paths like config check's
 * (`detectors.session_cost.warning_usd`). Lists of plain values (members, notify) are one change
 * each; lists of objects (teams, rules) are compared item by item. Durations are in milliseconds,
 * as the config holds them.
 */
export function configDiff(before: Config, after: Config): ConfigChange[] {
  const changes: ConfigChange[] = [];
  const walk = (a: unknown, b: unknown, path: PropertyKey[]): void => {
    if (isPlain(a) && isPlain(b)) {
      const keys = [...Object.keys(b), ...Object.keys(a).filter((k) => !(k in b))];
      for (const key of keys) walk(a[key], b[key], [...path, key]);
      return;
    }
    if (Array.isArray(a) && Array.isArray(b) && !(a.every(isScalar) && b.every(isScalar))) {
      for (let i = 0; i < Math.max(a.length, b.length); i++) walk(a[i], b[i], [...path, i]);
      return;
    }
    if (JSON.stringify(a) === JSON.stringify(b)) return;
    const secret = path.some(isSecretKey);
    changes.push({
      path: formatPath(path),
      from: a === undefined ? UNSET : secret ? REDACTED : redact(a),
      to: b === undefined ? UNSET : secret ? REDACTED : redact(b),
    });
  };
  walk(before, after, []);
  return changes;
}

/** `detectors.session_cost.warning_usd: 25 → 5`, for a log line. */
export function formatChange(change: ConfigChange): string {
  const show = (v: unknown): string => {
    const text = typeof v === 'string' ? v : JSON.stringify(v);
    return text.length > 200 ? `${text.slice(0, 199)}…` : text;
  };
  return `${change.path}: ${show(change.from)} → ${show(change.to)}`;
}
