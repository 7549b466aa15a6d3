import { type AnomalyState, lifecycleOf } from '@burnrate/schemas';
import { anomaly } from '@burnrate/testing/builders';
import { describe, expect, it } from 'vitest';
import { renderSlack } from './render-slack.ts';
import { ALL_IN_MESSAGE, parseSlackActionValue } from './slack-actions.ts';

type AnyBlock = { type: string; text?: { text: string }; fields?: Array<{ text: string }>; elements?: Array<Record<string, unknown>> };

const blocksOf = (a: ReturnType<typeof anomaly>, reason?: 'new' | 'escalated' | 'resolved') =>
  renderSlack(a, reason ? { reason } : {}).blocks as unknown as AnyBlock[];

describe('renderSlack', () => {
  const critical = anomaly({
    id: 'anom-7',
    severity: 'critical',
    observed: { value: 104.2, unit: 'usd' },
    expected: { value: 25, unit: 'usd' },
    impact_usd: 79.2,
    projected_usd: 310,
  });

  it('has a fallback text with the headline and summary', () => {
    expect(renderSlack(critical).text).toBe(`[critical] Session cost $104 for alice@acme.com (payments): ${critical.summary}`);
  });

  it('lays out header, what, who, how much, evidence, advice, context and actions', () => {
    const blocks = blocksOf(critical);
    expect(blocks.map((b) => b.type)).toEqual(['header', 'section', 'section', 'section', 'section', 'section', 'context', 'actions']);
    expect(blocks[0]?.text?.text).toBe(':rotating_light: Critical: Session cost');
    expect(blocks[1]?.text?.text).toContain(critical.summary);
    expect(blocks[2]?.fields?.map((f) => f.text)).toEqual([
      '*Team*\npayments',
      '*Developer*\nalice@acme.com',
      '*Session*\n`sess-1`',
      '*Model*\nclaude-opus-4-5',
    ]);
    expect(blocks[3]?.fields?.map((f) => f.text)).toEqual([
      '*Observed*\n$104 (4.2× expected)',
      '*Expected*\n$25',
      '*Impact*\n$79.20 over the warning cap so far',
      '*If nothing changes*\n$310 more before the team is likely to look',
    ]);
    expect(blocks[4]?.text?.text).toContain('`▁▂▄█`  low $0.35, high $2.05 · 2026-11-27 13:15Z – 14:00Z (45 min)');
    expect(blocks[4]?.text?.text).toContain('• turn 40 (2026-11-27 14:00Z): $2.05');
    expect(blocks[5]?.text?.text).toBe(`*What to do*\n${critical.advice}`);
  });

  it('says by when the team looks and where the team stands against its month, when the notifier knows', () => {
    const context = {
      lookBy: { [critical.id]: 'by Mon 09:00 Europe/Berlin' },
      months: [{ team: 'payments', spent_usd: 4210, budget_usd: 6000, on_course_usd: 5900 }],
    };
    const blocks = renderSlack(critical, { context }).blocks as unknown as AnyBlock[];
    expect(blocks.map((b) => b.type)).toEqual([
      'header',
      'section',
      'section',
      'section',
      'context',
      'section',
      'section',
      'context',
      'actions',
    ]);
    expect(blocks[3]?.fields?.[3]?.text).toBe('*If nothing changes*\n$310 more by Mon 09:00 Europe/Berlin');
    expect(blocks[4]?.elements?.[0]?.text).toBe('Team payments: $4,210 of $6,000 this month (70%), on course for $5,900');
    const resolved = renderSlack({ ...critical, status: 'resolved' }, { context }).blocks as unknown as AnyBlock[];
    expect(resolved.map((b) => b.type)).toEqual(['header', 'section', 'context', 'context']);
    expect(resolved[2]?.elements?.[0]?.text).toBe('Team payments: $4,210 of $6,000 this month (70%), on course for $5,900');
  });

  it('says when an anomaly escalated', () => {
    expect(blocksOf(critical, 'escalated')[0]?.text?.text).toBe(':rotating_light: Escalated to critical: Session cost');
    expect(blocksOf(anomaly())[0]?.text?.text).toBe(':warning: Warning: Session cost');
  });

  it('renders a resolved episode as a short note without buttons', () => {
    const blocks = blocksOf(anomaly({ status: 'resolved', impact_usd: 12 }));
    expect(blocks.map((b) => b.type)).toEqual(['header', 'section', 'context']);
    expect(blocks[0]?.text?.text).toBe(':white_check_mark: Resolved: Session cost');
    expect(blocks[1]?.text?.text).toContain('Impact while it lasted: *$12 over the warning cap*.');
  });

  it('escapes mrkdwn control characters from the data', () => {
    const blocks = blocksOf(anomaly({ summary: 'cost <b>&</b> more', subject: { developer: '<@U123>' } }));
    expect(blocks[1]?.text?.text).toBe('*What happened*\ncost &lt;b&gt;&amp;&lt;/b&gt; more');
    expect(blocks[2]?.fields?.[1]?.text).toBe('*Developer*\n&lt;@U123&gt;');
  });

  it('keeps within Block Kit limits for long text', () => {
    const blocks = blocksOf(anomaly({ summary: 'x'.repeat(5000) }));
    expect(blocks[1]?.text?.text.length).toBe(3000);
  });

  it('leaves the evidence block out when there is none', () => {
    expect(blocksOf(anomaly({ evidence: [] })).map((b) => b.type)).toEqual([
      'header',
      'section',
      'section',
      'section',
      'section',
      'context',
      'actions',
    ]);
  });

  it('escapes the notification text like the blocks: no channel ping, no disguised link', () => {
    const hostile = anomaly({
      summary: 'spent <!channel> see <https://evil.example|click> & <@U123>',
      subject: { developer: '<!here>', team: 'payments' },
    });
    const { text, blocks } = renderSlack(hostile);
    expect(text).toBe(
      '[warning] Session cost $31.20 for &lt;!here&gt; (payments): spent &lt;!channel&gt; see &lt;https://evil.example|click&gt; &amp; &lt;@U123&gt;',
    );
    // Nothing user-derived keeps a raw < or > anywhere in the message.
    const everything = JSON.stringify({ text, blocks });
    expect(everything).not.toMatch(/<[!@h]/);
  });

  it('never cuts an escaped entity in half when it shortens text', () => {
    const { text, blocks } = renderSlack(anomaly({ summary: '&'.repeat(5000), subject: { developer: '<'.repeat(3000) } }));
    expect(text.length).toBeLessThanOrEqual(3000);
    expect(text).toMatch(/(&amp;|&lt;)…$/);
    const fieldsText = (blocks as unknown as AnyBlock[])[2]?.fields?.[1]?.text ?? '';
    expect(fieldsText).toMatch(/^\*Developer\*\n(&lt;)+…$/);
    const what = (blocks as unknown as AnyBlock[])[1]?.text?.text ?? '';
    expect(what).toMatch(/^\*What happened\*\n(&amp;)+…$/);
  });

  it('writes huge amounts in words, never as an exponent or a 300-digit figure', () => {
    const huge = anomaly({
      observed: { value: 1e300, unit: 'usd' },
      expected: { value: 25, unit: 'usd' },
      impact_usd: 2.5e9,
      projected_usd: Number.MAX_VALUE,
      evidence: [
        { at: '2026-11-27T13:00:00.000Z', label: 'turn 1', value: 0.5, unit: 'usd' },
        { at: '2026-11-27T14:00:00.000Z', label: 'turn 2', value: 1e300, unit: 'usd' },
      ],
    });
    const { text, blocks } = renderSlack(huge);
    const fields = (blocks as unknown as AnyBlock[])[3]?.fields?.map((f) => f.text);
    expect(fields).toEqual([
      '*Observed*\nover $1,000 trillion (over 1,000 trillion× expected)',
      '*Expected*\n$25',
      '*Impact*\n$2.5 billion over the warning cap so far',
      '*If nothing changes*\nover $1,000 trillion more before the team is likely to look',
    ]);
    expect(text).toMatch(/^\[warning\] Session cost over \$1,000 trillion for alice@acme.com/);
    const everything = JSON.stringify({ text, blocks });
    expect(everything).not.toMatch(/e\+|\d{16}|Infinity|NaN/);
  });
});

type Control = {
  type: string;
  action_id: string;
  value?: string;
  style?: string;
  text?: { text: string };
  placeholder?: { text: string };
  options?: Array<{ text: { text: string }; value: string }>;
};

const controlsOf = (blocks: AnyBlock[]): Control[] => (blocks.find((b) => b.type === 'actions')?.elements ?? []) as unknown as Control[];
const contextTexts = (blocks: AnyBlock[]): string[] =>
  blocks.filter((b) => b.type === 'context').flatMap((b) => (b.elements ?? []).map((e) => String(e.text)));

const decision = (overrides: Partial<AnomalyState> & Pick<AnomalyState, 'action'>): AnomalyState => ({
  anomaly_id: 'anom-7',
  by: 'alice@acme.com',
  channel: 'slack',
  at: '2026-11-27T14:10:00.000Z',
  ...overrides,
});
const NOW = new Date('2026-11-27T14:30:00.000Z');
// 2026-11-27T14:10:00Z in Unix seconds, as Slack's date token carries it.
const AT = Date.parse('2026-11-27T14:10:00.000Z') / 1000;

describe('renderSlack controls', () => {
  const a = anomaly({ id: 'anom-7', severity: 'critical' });

  it('draws Acknowledge, a Snooze select and a Resolve select with the values of the action contract', () => {
    const [ack, snooze, resolve] = controlsOf(blocksOf(a));
    expect(ack).toMatchObject({
      type: 'button',
      action_id: 'burnrate_ack',
      value: 'ack|anom-7',
      style: 'primary',
      text: { text: 'Acknowledge' },
    });
    expect(snooze).toMatchObject({ type: 'static_select', action_id: 'burnrate_snooze', placeholder: { text: 'Snooze' } });
    expect(snooze?.options?.map((o) => [o.text.text, o.value])).toEqual([
      ['1 hour', 'snooze:1h|anom-7'],
      ['Until tomorrow 09:00', 'snooze:tomorrow|anom-7'],
      ['1 week', 'snooze:1w|anom-7'],
    ]);
    expect(resolve).toMatchObject({ type: 'static_select', action_id: 'burnrate_resolve' });
    expect(resolve?.options?.map((o) => o.value)).toEqual(['resolve:expected|anom-7', 'resolve:real|anom-7', 'resolve:noise|anom-7']);
  });

  it('every value reads back to the action it stands for', () => {
    const values = controlsOf(blocksOf(a)).flatMap((c) => (c.options ? c.options.map((o) => o.value) : [c.value ?? '']));
    expect(values.map(parseSlackActionValue)).toEqual([
      { verb: 'ack', ref: 'anom-7' },
      { verb: 'snooze', choice: '1h', ref: 'anom-7' },
      { verb: 'snooze', choice: 'tomorrow', ref: 'anom-7' },
      { verb: 'snooze', choice: '1w', ref: 'anom-7' },
      { verb: 'resolve', reason: 'expected', ref: 'anom-7' },
      { verb: 'resolve', reason: 'real', ref: 'anom-7' },
      { verb: 'resolve', reason: 'noise', ref: 'anom-7' },
    ]);
  });

  it('refers to the message (*) when the id would not fit a select option value (150 characters)', () => {
    const long = anomaly({ id: 'x'.repeat(140) });
    const values = controlsOf(blocksOf(long)).flatMap((c) => (c.options ? c.options.map((o) => o.value) : [c.value ?? '']));
    expect(values.every((v) => v.endsWith(`|${ALL_IN_MESSAGE}`))).toBe(true);
    expect(Math.max(...values.map((v) => v.length))).toBeLessThanOrEqual(150);
  });

  it('after an acknowledgement, says who and when, and offers Unacknowledge instead', () => {
    const lifecycle = lifecycleOf([decision({ action: 'acknowledged', by: 'bob@acme.com' })], NOW);
    const blocks = renderSlack(a, { lifecycle }).blocks as unknown as AnyBlock[];
    expect(contextTexts(blocks)).toContain(
      `:eyes: Acknowledged by bob@acme.com at <!date^${AT}^{date_short_pretty} {time}|2026-11-27 14:10Z>`,
    );
    const [button, ...selects] = controlsOf(blocks);
    expect(button).toMatchObject({ action_id: 'burnrate_unack', value: 'unack|anom-7', text: { text: 'Unacknowledge' } });
    expect(button?.style).toBeUndefined();
    expect(selects.map((s) => s.action_id)).toEqual(['burnrate_snooze', 'burnrate_resolve']);
    // The header is unchanged: acknowledging does not make it less severe.
    expect(blocks[0]?.text?.text).toBe(':rotating_light: Critical: Session cost');
  });

  it('mentions a Slack user the interactivity endpoint could not map to an email, and escapes anyone else', () => {
    const bySlack = lifecycleOf([decision({ action: 'acknowledged', by: 'slack:U0123ABCD' })], NOW);
    expect(contextTexts(renderSlack(a, { lifecycle: bySlack }).blocks as unknown as AnyBlock[])[0]).toMatch(
      /^:eyes: Acknowledged by <@U0123ABCD> at /,
    );
    const hostile = lifecycleOf([decision({ action: 'acknowledged', by: '<!channel>' })], NOW);
    expect(contextTexts(renderSlack(a, { lifecycle: hostile }).blocks as unknown as AnyBlock[])[0]).toMatch(
      /^:eyes: Acknowledged by &lt;!channel&gt; at /,
    );
  });

  it('says until when it is snoozed, and by whom, with the note', () => {
    const lifecycle = lifecycleOf(
      [decision({ action: 'snoozed', by: 'carol@acme.com', snoozed_until: '2026-11-28T08:00:00.000Z', note: 'deploy <in> progress' })],
      NOW,
    );
    const blocks = renderSlack(a, { lifecycle }).blocks as unknown as AnyBlock[];
    const until = Date.parse('2026-11-28T08:00:00.000Z') / 1000;
    expect(contextTexts(blocks)).toContain(
      `:zzz: Snoozed by carol@acme.com until <!date^${until}^{date_short_pretty} {time}|2026-11-28 08:00Z> — “deploy &lt;in&gt; progress”`,
    );
    expect(controlsOf(blocks).map((c) => c.action_id)).toEqual(['burnrate_ack', 'burnrate_snooze', 'burnrate_resolve']);
  });

  it('keeps Unacknowledge while an acknowledged anomaly is snoozed, and says both', () => {
    const lifecycle = lifecycleOf(
      [
        decision({ action: 'acknowledged' }),
        decision({ action: 'snoozed', at: '2026-11-27T14:20:00.000Z', snoozed_until: '2026-11-27T15:20:00.000Z' }),
      ],
      NOW,
    );
    const blocks = renderSlack(a, { lifecycle }).blocks as unknown as AnyBlock[];
    expect(contextTexts(blocks)[0]).toMatch(/^:eyes: Acknowledged by alice@acme\.com at .*\n:zzz: Snoozed by alice@acme\.com until /);
    expect(controlsOf(blocks)[0]?.action_id).toBe('burnrate_unack');
  });

  it('says when an acknowledgement was taken back, and offers Acknowledge again', () => {
    const lifecycle = lifecycleOf(
      [decision({ action: 'acknowledged' }), decision({ action: 'unacknowledged', by: 'bob@acme.com', at: '2026-11-27T14:20:00.000Z' })],
      NOW,
    );
    const blocks = renderSlack(a, { lifecycle }).blocks as unknown as AnyBlock[];
    expect(contextTexts(blocks)[0]).toMatch(/^:leftwards_arrow_with_hook: Acknowledgement withdrawn by bob@acme\.com at /);
    expect(controlsOf(blocks)[0]?.action_id).toBe('burnrate_ack');
  });

  it('once a human resolved it: the reason in the header and a line, and no controls', () => {
    const lifecycle = lifecycleOf([decision({ action: 'resolved', reason: 'noise', by: 'dave@acme.com' })], NOW);
    const blocks = renderSlack(a, { lifecycle }).blocks as unknown as AnyBlock[];
    expect(blocks[0]?.text?.text).toBe(':white_check_mark: Resolved as noise: Session cost');
    expect(contextTexts(blocks)[0]).toBe(
      `:white_check_mark: Resolved as *noise* by dave@acme.com at <!date^${AT}^{date_short_pretty} {time}|2026-11-27 14:10Z>`,
    );
    expect(blocks.some((b) => b.type === 'actions')).toBe(false);
    // The figures stay: the message is still the record of what happened.
    expect(blocks.map((b) => b.type)).toContain('section');
  });

  it('has no controls once the detector resolved it, and still shows who acknowledged', () => {
    const lifecycle = lifecycleOf([decision({ action: 'acknowledged' })], NOW);
    const blocks = renderSlack(anomaly({ status: 'resolved' }), { reason: 'resolved', lifecycle }).blocks as unknown as AnyBlock[];
    expect(blocks.map((b) => b.type)).toEqual(['header', 'section', 'context', 'context']);
    expect(contextTexts(blocks)[0]).toMatch(/^:eyes: Acknowledged by alice@acme\.com/);
  });
});

describe('renderSlack headers by reason and escalation', () => {
  const critical = anomaly({ id: 'anom-7', severity: 'critical' });
  const header = (options: Parameters<typeof renderSlack>[1], a = critical) =>
    (renderSlack(a, options).blocks as unknown as AnyBlock[])[0]?.text?.text;

  it.each([
    ['new', ':rotating_light: Critical: Session cost'],
    ['updated', ':rotating_light: Critical: Session cost'],
    ['escalated', ':rotating_light: Escalated to critical: Session cost'],
    ['grown', ':rotating_light: Critical, grown: Session cost'],
    ['reminder', ':rotating_light: Critical, still open: Session cost'],
    ['snooze_ended', ':rotating_light: Critical, worse after the snooze: Session cost'],
    ['resolved', ':white_check_mark: Resolved: Session cost'],
  ] as const)('%s → %s', (reason, expected) => {
    expect(header({ reason })).toBe(expected);
  });

  it('says who it was escalated to and after how long unacknowledged', () => {
    expect(header({ reason: 'new', escalation: { to: 'oncall', unacknowledgedForMs: 30 * 60_000 } })).toBe(
      ':rotating_light: Critical: Session cost · escalated to on-call after 30 min unacknowledged',
    );
    expect(header({ reason: 'reminder', escalation: { to: 'finops', unacknowledgedForMs: 150 * 60_000 } })).toBe(
      ':rotating_light: Critical, still open: Session cost · escalated to FinOps after 2.5 h unacknowledged',
    );
  });

  it('says why now in the notification text too, escaped', () => {
    const a = anomaly({ severity: 'critical', summary: 'spent <!channel>' });
    expect(renderSlack(a, { escalation: { to: 'oncall', unacknowledgedForMs: 1_800_000 } }).text).toBe(
      'Escalated to on-call after 30 min unacknowledged: [critical] Session cost $31.20 for alice@acme.com (payments): spent &lt;!channel&gt;',
    );
    expect(renderSlack(a, { reason: 'reminder' }).text).toMatch(/^Still open: \[critical\]/);
    expect(renderSlack(a, { reason: 'snooze_ended' }).text).toMatch(/^Worse after the snooze: \[critical\]/);
  });

  it('links to the anomaly page in the identity line when public_url is set', () => {
    const blocks = renderSlack(critical, { publicUrl: 'https://burnrate.acme.internal/' }).blocks as unknown as AnyBlock[];
    expect(contextTexts(blocks).at(-1)).toMatch(/ · <https:\/\/burnrate\.acme\.internal\/anomalies\/anom-7\|Open in Burnrate>$/);
  });
});

describe('renderSlack groups', () => {
  const member = (i: number, overrides: Parameters<typeof anomaly>[0] = {}) =>
    anomaly({
      id: `g-${i}`,
      severity: i === 0 ? 'critical' : 'warning',
      subject: { developer: `dev${i}@acme.com`, session: `s-${i}` },
      observed: { value: 30 + i, unit: 'usd' },
      impact_usd: 5 + i,
      projected_usd: 100,
      ...overrides,
    });
  const group = Array.from({ length: 5 }, (_, i) => member(i));

  it('is one message: a header with the count, the totals, one line per anomaly and controls for all of them', () => {
    const { text, blocks } = renderSlack(group[0] ?? member(0), { group, publicUrl: 'https://burnrate.acme.internal' });
    const b = blocks as unknown as AnyBlock[];
    expect(b[0]?.text?.text).toBe(':rotating_light: Critical: 5 session cost anomalies for team payments');
    expect(b[1]?.text?.text).toBe(
      '*Impact so far, all together* $35 · *if nothing changes* $500 more before the team is likely to look · 1 critical, 4 warning',
    );
    const lines = b[2]?.text?.text.split('\n') ?? [];
    expect(lines).toHaveLength(5);
    expect(lines[0]).toBe(
      ':rotating_light: *dev0@acme.com · session s-0* — $30 (1.2× expected) · $5 over the warning cap so far · <https://burnrate.acme.internal/anomalies/g-0|details>',
    );
    expect(lines[1]).toMatch(/^:warning: \*dev1@acme\.com · session s-1\* — \$31 /);
    expect(text).toBe('5 session cost anomalies for team payments: $35 of impact so far');
    const values = controlsOf(b).flatMap((c) => (c.options ? c.options.map((o) => o.value) : [c.value ?? '']));
    expect(values.map((v) => parseSlackActionValue(v)?.ref)).toEqual(Array(7).fill(ALL_IN_MESSAGE));
  });

  it('names the kind on each line and leads the header with the first member when kinds differ', () => {
    const mixed = [
      member(0),
      member(1, { kind: 'runaway_session' }),
      anomaly({ id: 'g-team', kind: 'cache_efficiency_drop', subject: { developer: undefined, session: undefined, model: undefined } }),
    ];
    const b = renderSlack(mixed[0] ?? member(0), { group: mixed }).blocks as unknown as AnyBlock[];
    expect(b[0]?.text?.text).toBe(':rotating_light: Critical: Session cost and 2 more anomalies for team payments');
    const lines = b[2]?.text?.text.split('\n') ?? [];
    expect(lines[1]).toMatch(/^:warning: \*Runaway session · dev1@acme\.com · session s-1\*/);
    expect(lines[2]).toMatch(/^:warning: \*Cache efficiency drop · team payments\*/);
  });

  it('keeps within Block Kit limits for a large group and counts what it leaves out', () => {
    const many = Array.from({ length: 300 }, (_, i) => member(i, { subject: { developer: `${'d'.repeat(400)}${i}@acme.com` } }));
    const { blocks } = renderSlack(many[0] ?? member(0), { group: many, publicUrl: 'https://burnrate.acme.internal' });
    const b = blocks as unknown as AnyBlock[];
    expect(b.length).toBeLessThanOrEqual(50);
    for (const block of b) expect(block.text?.text.length ?? 0).toBeLessThanOrEqual(3000);
    const lines = b
      .filter((x) => x.type === 'section')
      .slice(1)
      .flatMap((x) => x.text?.text.split('\n') ?? []);
    const shown = lines.filter((l) => !l.startsWith('…')).length;
    expect(shown).toBeGreaterThan(0);
    expect(shown).toBeLessThanOrEqual(40);
    expect(lines.at(-1)).toBe(`…and ${300 - shown} more`);
    // A line is never cut: every link is whole.
    for (const l of lines.filter((x) => !x.startsWith('…'))) expect(l).toMatch(/\|details>$/);
    expect(b.at(-1)?.type).toBe('actions');
  });

  it('lists resolved members as resolved, and a group with every member resolved has no controls', () => {
    const done = group.map((m) => ({ ...m, status: 'resolved' as const }));
    const b = renderSlack(done[0] ?? member(0), { group: done, reason: 'resolved' }).blocks as unknown as AnyBlock[];
    expect(b[0]?.text?.text).toBe(':white_check_mark: Resolved: 5 session cost anomalies for team payments');
    expect(b[1]?.text?.text).toBe('*Impact so far, all together* $35 · 5 resolved');
    expect(b[2]?.text?.text.split('\n')[0]).toBe(':white_check_mark: *dev0@acme.com · session s-0* — resolved, $5 over the warning cap');
    expect(b.some((x) => x.type === 'actions')).toBe(false);
  });

  it('shows the group’s acknowledgement and offers Unacknowledge for all', () => {
    const lifecycle = lifecycleOf([decision({ action: 'acknowledged', anomaly_id: 'g-0' })], NOW);
    const b = renderSlack(group[0] ?? member(0), { group, lifecycle }).blocks as unknown as AnyBlock[];
    expect(contextTexts(b)[0]).toMatch(/^:eyes: Acknowledged by alice@acme\.com at /);
    expect(controlsOf(b)[0]).toMatchObject({ action_id: 'burnrate_unack', value: 'unack|*' });
  });

  it('escapes every member’s text', () => {
    const hostile = [member(0), member(1, { subject: { developer: '<!channel>', session: '<https://evil|x>' } })];
    const { text, blocks } = renderSlack(hostile[0] ?? member(0), { group: hostile });
    expect(JSON.stringify({ text, blocks })).not.toMatch(/<[!@h]/);
  });

  it('renders a group of one as that anomaly alone', () => {
    const one = member(0);
    expect(renderSlack(one, { group: [one] })).toEqual(renderSlack(one));
  });
});

describe('renderSlack thread replies', () => {
  const a = anomaly({
    id: 'anom-7',
    version: 3,
    severity: 'critical',
    observed: { value: 104.2, unit: 'usd' },
    expected: { value: 25, unit: 'usd' },
    impact_usd: 79.2,
    projected_usd: 310,
  });

  it('is one line with what changed and the new figures, and the identity, without controls', () => {
    const { text, blocks } = renderSlack(a, { reason: 'escalated', reply: true });
    const b = blocks as unknown as AnyBlock[];
    expect(b.map((x) => x.type)).toEqual(['section', 'context']);
    expect(b[0]?.text?.text).toBe(
      ':rotating_light: Escalated to critical: Session cost for alice@acme.com (payments) — $104 (4.2× expected) · $79.20 over the warning cap so far · $310 more before the team is likely to look if nothing changes',
    );
    expect(text).toBe(
      'Escalated to critical: Session cost for alice@acme.com (payments) — $104 (4.2× expected) · $79.20 over the warning cap so far · $310 more before the team is likely to look if nothing changes',
    );
  });

  it.each([
    [
      'grown',
      ':rotating_light: Critical, grown: Session cost for alice@acme.com (payments) — $104 (4.2× expected) · $79.20 over the warning cap so far',
    ],
    ['reminder', ':rotating_light: Critical, still open: Session cost'],
    ['snooze_ended', ':rotating_light: Critical, worse after the snooze: Session cost'],
  ] as const)('says %s', (reason, start) => {
    expect((renderSlack(a, { reason, reply: true }).blocks as unknown as AnyBlock[])[0]?.text?.text.startsWith(start)).toBe(true);
  });

  it('says resolved with the impact while it lasted', () => {
    const b = renderSlack({ ...a, status: 'resolved' }, { reason: 'resolved', reply: true }).blocks as unknown as AnyBlock[];
    expect(b[0]?.text?.text).toBe(
      ':white_check_mark: Resolved: Session cost for alice@acme.com (payments) — impact while it lasted $79.20 over the warning cap',
    );
  });

  it('for a group, says the count and the total', () => {
    const group = [a, { ...a, id: 'anom-8', impact_usd: 20 }];
    const b = renderSlack(a, { group, reason: 'grown', reply: true }).blocks as unknown as AnyBlock[];
    expect(b.map((x) => x.type)).toEqual(['section']);
    expect(b[0]?.text?.text).toBe(
      ':rotating_light: Critical, grown: 2 session cost anomalies for team payments — $99.20 of impact so far, all together',
    );
  });

  it('escapes the subject', () => {
    const { text, blocks } = renderSlack(anomaly({ subject: { developer: '<!here>' } }), { reason: 'grown', reply: true });
    expect(JSON.stringify({ text, blocks })).not.toMatch(/<[!@h]/);
  });
});
