import { anomaly } from '@burnrate/testing/builders';
import { describe, expect, it } from 'vitest';
import { renderSlack } from './render-slack.ts';

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
    expect(renderSlack(critical).text).toBe(`[critical] Session cost $104.20 for alice@acme.com (payments): ${critical.summary}`);
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
      '*Observed*\n$104.20 (4.2× expected)',
      '*Expected*\n$25.00',
      '*Impact so far*\n$79.20',
      '*Projected if it goes on*\n$310.00',
    ]);
    expect(blocks[4]?.text?.text).toContain('`▁▂▄█`  $0.35 → $2.05');
    expect(blocks[4]?.text?.text).toContain('• turn 40 (2026-11-27 14:00Z): $2.05');
    expect(blocks[5]?.text?.text).toBe(`*What to do*\n${critical.advice}`);
  });

  it('puts the anomaly id in the button action ids and values', () => {
    const actions = blocksOf(critical).at(-1);
    expect(actions?.elements?.map((e) => [e.action_id, e.value])).toEqual([
      ['ack:anom-7', 'ack:anom-7'],
      ['snooze:anom-7', 'snooze:anom-7'],
    ]);
  });

  it('says when an anomaly escalated', () => {
    expect(blocksOf(critical, 'escalated')[0]?.text?.text).toBe(':rotating_light: Escalated to critical: Session cost');
    expect(blocksOf(anomaly())[0]?.text?.text).toBe(':warning: Warning: Session cost');
  });

  it('renders a resolved episode as a short note without buttons', () => {
    const blocks = blocksOf(anomaly({ status: 'resolved', impact_usd: 12 }));
    expect(blocks.map((b) => b.type)).toEqual(['header', 'section', 'context']);
    expect(blocks[0]?.text?.text).toBe(':white_check_mark: Resolved: Session cost');
    expect(blocks[1]?.text?.text).toContain('Impact while it lasted: *$12.00*');
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
      '*Expected*\n$25.00',
      '*Impact so far*\n$2.5 billion',
      '*Projected if it goes on*\nover $1,000 trillion',
    ]);
    expect(text).toMatch(/^\[warning\] Session cost over \$1,000 trillion for alice@acme.com/);
    const everything = JSON.stringify({ text, blocks });
    expect(everything).not.toMatch(/e\+|\d{16}|Infinity|NaN/);
  });
});
