import { z } from 'zod';
import { type Anomaly, AnomalyKind } from './anomaly.v1.ts';
import { Instant, Severity } from './common.ts';

/**
 * What a silence matcher can name. `tool` and `emitter` are for anomalies that carry them; on an
 * anomaly that does not, the label's value is empty, so `tool=x` does not match it and `tool!=x` does
 * (Alertmanager's rule for a missing label).
 */
export const SilenceLabel = z.enum(['team', 'kind', 'severity', 'developer', 'model', 'session', 'tool', 'emitter']);
export type SilenceLabel = z.infer<typeof SilenceLabel>;

export const SilenceMatcher = z
  .object({
    label: SilenceLabel,
    value: z.string().min(1).max(256),
    // Absent means '='.
    op: z.enum(['=', '!=']).optional(),
  })
  .strict()
  .superRefine((m, ctx) => {
    // A typo in a closed vocabulary would make a silence that never matches, and nobody would know.
    const closed = m.label === 'kind' ? AnomalyKind : m.label === 'severity' ? Severity : undefined;
    if (closed && !closed.safeParse(m.value).success) {
      ctx.addIssue({
        code: 'custom',
        path: ['value'],
        message: `${m.label} must be one of ${closed.options.join(', ')}, not ${JSON.stringify(m.value)}`,
      });
    }
  });
export type SilenceMatcher = z.infer<typeof SilenceMatcher>;

/**
 * A silence: anomalies that match every matcher while it is active (starts_at <= now < ends_at)
 * are stored and visible but not sent. Expiring one early is the same id again with ends_at = now.
 */
export const Silence = z
  .object({
    id: z.string().min(1).max(128),
    matchers: z.array(SilenceMatcher).min(1, 'a silence needs at least one matcher: without one it would silence everything').max(16),
    starts_at: Instant,
    ends_at: Instant,
    created_by: z.string().min(1).max(254),
    comment: z.string().min(1).max(2000),
    created_at: Instant,
  })
  .strict()
  .superRefine((s, ctx) => {
    if (Date.parse(s.ends_at) < Date.parse(s.starts_at)) {
      ctx.addIssue({ code: 'custom', path: ['ends_at'], message: `ends_at (${s.ends_at}) is before starts_at (${s.starts_at})` });
    }
  });
export type Silence = z.infer<typeof Silence>;

export function silenceActive(silence: Pick<Silence, 'starts_at' | 'ends_at'>, now: Date): boolean {
  const t = now.getTime();
  return Date.parse(silence.starts_at) <= t && t < Date.parse(silence.ends_at);
}

/** The value of a label on an anomaly; '' when the anomaly does not have it. */
export function anomalyLabel(anomaly: Anomaly, label: SilenceLabel): string {
  switch (label) {
    case 'team':
      return anomaly.subject.team;
    case 'kind':
      return anomaly.kind;
    case 'severity':
      return anomaly.severity;
    case 'developer':
      return anomaly.subject.developer ?? '';
    case 'model':
      return anomaly.subject.model ?? '';
    case 'session':
      return anomaly.subject.session ?? '';
    case 'tool':
    case 'emitter':
      return '';
  }
}

/** Whether the silence is active at `now` and every one of its matchers holds for the anomaly. */
export function silenceMatches(silence: Silence, anomaly: Anomaly, now: Date): boolean {
  if (!silenceActive(silence, now)) return false;
  return silence.matchers.every((m) => (anomalyLabel(anomaly, m.label) === m.value) === ((m.op ?? '=') === '='));
}

/**
 * `team=payments`, `kind!=spend_spike`: a matcher as people type it (the CLI, the API's string
 * form). Throws a message naming the problem; the result still goes through SilenceMatcher.
 */
export function parseSilenceMatcher(text: string): SilenceMatcher {
  const m = /^\s*([a-z_]+)\s*(!=|=)\s*(.*?)\s*$/.exec(text);
  if (!m) throw new Error(`${JSON.stringify(text)} is not a matcher: write label=value or label!=value (e.g. team=payments)`);
  const [, label, op, value] = m as unknown as [string, string, '=' | '!=', string];
  const parsed = SilenceMatcher.safeParse({ label, value, ...(op === '!=' ? { op } : {}) });
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    if (issue?.path[0] === 'label') {
      throw new Error(`${JSON.stringify(text)}: the label must be one of ${SilenceLabel.options.join(', ')}, not ${JSON.stringify(label)}`);
    }
    if (value === '') throw new Error(`${JSON.stringify(text)}: the value is empty`);
    throw new Error(`${JSON.stringify(text)}: ${issue?.message ?? 'not a valid matcher'}`);
  }
  return parsed.data;
}

/** The matcher as parseSilenceMatcher reads it back. */
export function formatSilenceMatcher(m: SilenceMatcher): string {
  return `${m.label}${m.op ?? '='}${m.value}`;
}
