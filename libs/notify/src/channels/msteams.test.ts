import { ConfigError, parseConfig } from '@burnrate/core';
import { anomaly } from '@burnrate/testing/builders';
import { describe, expect, it } from 'vitest';
import { receiverSchema } from '../registry.ts';
import { msteams, MSTEAMS_MAX_BYTES, msTeamsCardId, renderMsTeams } from './msteams.ts';

/** `path (line n): message` of every problem with one receiver of a team; empty when it loads. */
function receiverIssues(receiver: string): string[] {
  try {
    parseConfig(`org: acme\nteams:\n  - id: payments\n    receivers:\n      - ${receiver}\n`, '<inline>', { receiver: receiverSchema });
    return [];
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    return err.issues.map((i) => `${i.path}${i.line ? ` (line ${i.line})` : ''}: ${i.message}`);
  }
}

type Element = { type: string; text?: string; inlines?: Element[]; items?: Element[]; columns?: Element[]; id?: string };

/** Every element of the card, depth first. */
function elements(body: readonly Element[]): Element[] {
  return body.flatMap((e) => [e, ...elements([...(e.items ?? []), ...(e.columns ?? []), ...(e.inlines ?? [])])]);
}

const card = (...args: Parameters<typeof renderMsTeams>) => renderMsTeams(...args).attachments[0].content;

describe('renderMsTeams', () => {
  it('is an Adaptive Card 1.4 message with what happened, who, how much, advice, identity and a link', () => {
    const message = renderMsTeams(
      {
        anomaly: anomaly({ id: 'tm-1', version: 2, severity: 'critical' }),
        reason: 'escalated',
        to: ['payments'],
        receiver: 'msteams:payments',
      },
      { publicUrl: 'https://burnrate.acme.internal' },
    );
    expect(message.type).toBe('message');
    expect(message.attachments[0].contentType).toBe('application/vnd.microsoft.card.adaptive');
    const content = message.attachments[0].content;
    expect(content).toMatchObject({ type: 'AdaptiveCard', version: '1.4', $schema: 'http://adaptivecards.io/schemas/adaptive-card.json' });
    const all = elements(content.body as Element[]);
    const texts = all.map((e) => e.text).filter((t): t is string => t !== undefined);
    expect(texts[0]).toBe('Escalated to critical: Session cost');
    expect(texts).toEqual(
      expect.arrayContaining([
        'Team',
        'payments',
        'Developer',
        'alice@acme.com',
        'What to do',
        'Impact',
        '$6.20 over the warning cap so far',
      ]),
    );
    expect(texts.at(-1)).toMatch(/^Burnrate · session_cost · v2 · window .* · tm-1$/);
    expect(content.body[0]).toMatchObject({ type: 'Container', id: msTeamsCardId('tm-1', 2, 'msteams:payments') });
    expect(content.actions).toEqual([
      { type: 'Action.OpenUrl', title: 'Open in Burnrate', url: 'https://burnrate.acme.internal/anomalies/tm-1' },
    ]);
  });

  it('is a short note for a resolved version, without a link when public_url is unset', () => {
    const content = card({ anomaly: anomaly({ status: 'resolved' }), reason: 'resolved', to: ['payments'] });
    const texts = elements(content.body as Element[]).flatMap((e) => (e.text === undefined ? [] : [e.text]));
    expect(texts[0]).toBe('Resolved: Session cost');
    expect(texts).toContain('Impact while it lasted');
    expect(texts).not.toContain('What to do');
    expect(content.actions).toBeUndefined();
  });

  it('puts text from the anomaly only in TextRuns, which Teams shows as written, never in Markdown TextBlocks', () => {
    const hostile = '[Reset your password](https://evil.example) **urgent** <at>CEO</at> # heading';
    const content = card({
      anomaly: anomaly({
        summary: hostile,
        advice: hostile,
        subject: { team: 'payments', developer: `x${hostile}`, session: hostile, model: hostile },
        evidence: [{ at: '2026-11-27T13:15:00.000Z', label: hostile, value: 1, unit: 'usd' }],
      }),
      reason: 'new',
      to: ['payments'],
    });
    const all = elements(content.body as Element[]);
    for (const e of all.filter((x) => x.type === 'TextBlock')) {
      expect(e.text).not.toMatch(/evil|<at>|\*\*urgent/);
    }
    const runs = all.filter((e) => e.type === 'TextRun').map((e) => e.text);
    expect(runs).toContain(hostile);
    expect(runs.filter((t) => t?.includes('https://evil.example')).length).toBeGreaterThanOrEqual(5);
  });

  it('stays under the size Teams takes, however long and wide the anomaly’s texts are', () => {
    const huge = '🔥'.repeat(20_000);
    const message = renderMsTeams({
      anomaly: anomaly({
        summary: huge,
        advice: huge,
        subject: { team: 'payments', developer: huge, session: huge, model: huge },
        evidence: Array.from({ length: 50 }, (_, i) => ({ at: '2026-11-27T13:15:00.000Z', label: `${huge}${i}`, value: i, unit: 'usd' })),
      }),
      reason: 'new',
      to: ['payments'],
    });
    expect(Buffer.byteLength(JSON.stringify(message))).toBeLessThanOrEqual(MSTEAMS_MAX_BYTES);
    const texts = elements(message.attachments[0].content.body as Element[]).map((e) => e.text ?? '');
    expect(texts.some((t) => t.startsWith('🔥'))).toBe(true);
    // Cut between characters, never inside a surrogate pair.
    for (const t of texts) expect(t.isWellFormed()).toBe(true);
  });
});

describe('renderMsTeams for groups, reasons and escalations', () => {
  const texts = (content: ReturnType<typeof card>) =>
    elements(content.body as Element[]).flatMap((e) => (e.text === undefined ? [] : [e.text]));
  const members = [
    anomaly({ id: 'g-0', severity: 'critical', subject: { developer: 'dev0@acme.com', session: 's-0' }, impact_usd: 10 }),
    anomaly({ id: 'g-1', subject: { developer: 'dev1@acme.com', session: 's-1' }, impact_usd: 5 }),
    anomaly({ id: 'g-2', status: 'resolved', subject: { developer: 'dev2@acme.com', session: 's-2' }, impact_usd: 1 }),
  ];
  const first = members[0] ?? anomaly();

  it('lists a group in one card: the count, the totals, a line per member linked to its page', () => {
    const content = card(
      { anomaly: first, group: members, reason: 'new', to: ['payments'], receiver: 'msteams:payments' },
      { publicUrl: 'https://burnrate.acme.internal' },
    );
    const all = texts(content);
    expect(all[0]).toBe('Critical: 3 session cost anomalies for team payments');
    expect(all).toEqual(expect.arrayContaining(['Impact so far, all together', '$16', 'Critical ', 'Warning ', 'Resolved ']));
    expect(all).toContain('dev0@acme.com · session s-0 — $31.20 (1.2× expected), $10 over the warning cap so far');
    expect(all).toContain('dev2@acme.com · session s-2 — resolved, $1 over the warning cap');
    const linked = elements(content.body as Element[]).filter((e) => (e as { selectAction?: unknown }).selectAction !== undefined);
    expect(linked.map((e) => (e as unknown as { selectAction: { url: string } }).selectAction.url)).toEqual([
      'https://burnrate.acme.internal/anomalies/g-0',
      'https://burnrate.acme.internal/anomalies/g-1',
      'https://burnrate.acme.internal/anomalies/g-2',
    ]);
    // One button would open only the first member.
    expect(content.actions).toBeUndefined();
    expect(content.body[0]?.id).not.toBe(msTeamsCardId('g-0', 1, 'msteams:payments'));
  });

  it('keeps a large group under the size Teams takes and counts what it leaves out', () => {
    const many = Array.from({ length: 200 }, (_, i) => anomaly({ id: `m-${i}`, subject: { developer: `${'🔥'.repeat(300)}${i}` } }));
    const message = renderMsTeams({ anomaly: many[0] ?? anomaly(), group: many, reason: 'new', to: ['payments'] });
    expect(Buffer.byteLength(JSON.stringify(message))).toBeLessThanOrEqual(MSTEAMS_MAX_BYTES);
    expect(texts(message.attachments[0].content).some((t) => /^…and \d+ more$/.test(t))).toBe(true);
  });

  it('says why now: a reminder, the end of a snooze, an escalation to on-call', () => {
    const a = anomaly({ severity: 'critical' });
    expect(texts(card({ anomaly: a, reason: 'reminder', to: ['p'] }))[0]).toBe('Critical, still open: Session cost');
    expect(texts(card({ anomaly: a, reason: 'snooze_ended', to: ['p'] }))[0]).toBe('Critical, worse after the snooze: Session cost');
    expect(texts(card({ anomaly: a, reason: 'new', to: ['p'], escalation: { to: 'oncall', unacknowledgedForMs: 1_800_000 } }))[0]).toBe(
      'Critical: Session cost · escalated to on-call after 30 min unacknowledged',
    );
  });

  it('gives a reminder a card id of its own', () => {
    const a = anomaly({ id: 'r-1' });
    const id = (n: Parameters<typeof card>[0]) => card(n).body[0]?.id;
    expect(id({ anomaly: a, reason: 'reminder', to: ['p'] })).not.toBe(id({ anomaly: a, reason: 'new', to: ['p'] }));
  });
});

describe('msteams receivers in burnrate.yaml', () => {
  it('reads the variable that holds the webhook URL, which carries a credential', () => {
    expect(receiverIssues('{ channel: msteams, name: payments, url_env: TEAMS_PAYMENTS_URL }')).toEqual([]);
    const r = msteams.receiver.parse({ channel: 'msteams', name: 'payments', url_env: 'TEAMS_PAYMENTS_URL' });
    expect(msteams.to(r)).toEqual(['payments']);
    expect(msteams.secrets?.(r)).toEqual([{ field: 'url_env', variable: 'TEAMS_PAYMENTS_URL' }]);
  });

  it.each([
    [
      'a URL in the file',
      '{ channel: msteams, name: payments, url: "https://acme.webhook.office.com/x" }',
      ['teams[0].receivers[0].url_env (line 5): is required (string)', 'teams[0].receivers[0] (line 5): unknown key "url"'],
    ],
    [
      'a URL where the variable goes',
      '{ channel: msteams, name: payments, url_env: "https://x" }',
      ['teams[0].receivers[0].url_env (line 5): expected an environment variable name such as PD_PAYMENTS_ROUTING_KEY'],
    ],
  ])('names the problem for %s', (_name, receiver, expected) => {
    expect(receiverIssues(receiver)).toEqual(expected);
  });
});
