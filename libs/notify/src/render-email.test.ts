import { anomaly } from '@burnrate/testing/builders';
import { describe, expect, it } from 'vitest';
import { renderEmail } from './render-email.ts';

describe('renderEmail', () => {
  const critical = anomaly({ severity: 'critical', observed: { value: 104.2, unit: 'usd' }, impact_usd: 79.2, projected_usd: 310 });

  it('has a subject naming severity, kind, cost, developer and team', () => {
    expect(renderEmail(critical).subject).toBe('[Burnrate][critical] Session cost $104 for alice@acme.com (payments)');
  });

  it('says by when the team looks and where the team stands against its month, in text and HTML', () => {
    const context = {
      lookBy: { [critical.id]: 'by Mon 09:00 Europe/Berlin' },
      months: [{ team: 'payments', spent_usd: 4210, budget_usd: 6000, on_course_usd: 5900 }],
    };
    const month = 'Team payments: $4,210 of $6,000 this month (70%), on course for $5,900';
    const { text, html } = renderEmail(critical, { context });
    expect(text).toContain(
      'Impact: $79.20 over the warning cap so far\nIf nothing changes: $310 more by Mon 09:00 Europe/Berlin\n\n' + month,
    );
    expect(html).toContain('<strong>$310 more by Mon 09:00 Europe/Berlin</strong>');
    expect(html).toContain(`<p style="margin:0 0 12px;color:#555">${month}</p>`);
    const group = renderEmail(critical, { context, group: [critical, anomaly({ id: 'other' })] });
    expect(group.text).toContain(
      `${month}\n\n1. [critical] Session cost $104 for alice@acme.com (payments): $79.20 over the warning cap so far`,
    );
    expect(group.html).toContain(month);
    // Without it (the store was slow), the message is the same less the line.
    expect(renderEmail(critical).text).not.toContain('this month');
  });

  it('carries the same facts in text and HTML', () => {
    const { text, html } = renderEmail(critical);
    for (const fact of [
      'Critical: Session cost',
      critical.summary.replace(/'/g, '&#39;'),
      'payments',
      'alice@acme.com',
      'sess-1',
      '$104 (4.2× expected)',
      '$79.20 over the warning cap so far',
      '$310 more before the team is likely to look',
      'low $0.35, high $2.05 · 2026-11-27 13:15Z – 14:00Z (45 min)',
      'turn 40 (2026-11-27 14:00Z): $2.05',
      '▁▂▄█',
    ]) {
      expect(html).toContain(fact);
    }
    for (const fact of [
      'Critical: Session cost',
      critical.summary,
      'Team: payments',
      'Developer: alice@acme.com',
      'Observed: $104 (4.2× expected)',
      'Impact: $79.20 over the warning cap so far',
      'If nothing changes: $310 more before the team is likely to look',
      'Evidence: ▁▂▄█  (low $0.35, high $2.05 · 2026-11-27 13:15Z – 14:00Z (45 min))',
      `What to do: ${critical.advice}`,
    ]) {
      expect(text).toContain(fact);
    }
  });

  const ACTIONS = {
    ack: 'https://burnrate.acme.internal/act/ack.sig',
    'snooze:1h': 'https://burnrate.acme.internal/act/s1h.sig',
    'snooze:tomorrow': 'https://burnrate.acme.internal/act/stm.sig',
    'snooze:1w': 'https://burnrate.acme.internal/act/s1w.sig',
    'resolve:expected': 'https://burnrate.acme.internal/act/rex.sig',
    'resolve:real': 'https://burnrate.acme.internal/act/rre.sig',
    'resolve:noise': 'https://burnrate.acme.internal/act/rno.sig',
  } as const;
  const PAGE = 'https://burnrate.acme.internal/anomalies/a1?t=view.sig';

  it('adds the action links and the page link it is given, and none without them', () => {
    const bare = renderEmail(critical);
    expect(bare.text).not.toMatch(/Acknowledge|Snooze|Resolve|Open in Burnrate/);
    expect(bare.html).not.toContain('href=');
    const { text, html } = renderEmail(critical, { links: { actions: ACTIONS, pages: { [critical.id]: PAGE } } });
    expect(text).toContain(
      [
        `Acknowledge: ${ACTIONS.ack}`,
        `Snooze 1 hour: ${ACTIONS['snooze:1h']}`,
        `Snooze until tomorrow morning: ${ACTIONS['snooze:tomorrow']}`,
        `Snooze 1 week: ${ACTIONS['snooze:1w']}`,
        `Resolve: expected: ${ACTIONS['resolve:expected']}`,
        `Resolve: real problem: ${ACTIONS['resolve:real']}`,
        `Resolve: noise: ${ACTIONS['resolve:noise']}`,
        `Open in Burnrate: ${PAGE}`,
      ].join('\n'),
    );
    for (const url of [...Object.values(ACTIONS), PAGE]) expect(html).toContain(`href="${url}"`);
    // Only what is given: a page link alone.
    const pageOnly = renderEmail(critical, { links: { pages: { [critical.id]: PAGE } } });
    expect(pageOnly.text).toContain(`Open in Burnrate: ${PAGE}`);
    expect(pageOnly.text).not.toContain('Acknowledge');
  });

  it('says who acknowledged, until when it is snoozed, and why it escalated', () => {
    const acked = renderEmail(critical, {
      lifecycle: { state: 'acknowledged', acknowledged: { by: 'bob@acme.com', at: '2026-11-27T14:20:00.000Z' } },
    });
    expect(acked.text).toContain('Acknowledged by bob@acme.com at 2026-11-27 14:20Z.');
    const escalated = renderEmail(critical, { reason: 'escalated', escalation: { to: 'oncall', unacknowledgedForMs: 30 * 60_000 } });
    expect(escalated.text).toContain('Nobody acknowledged this for 30 min, so it now goes to on-call.');
    expect(escalated.html).toContain('Nobody acknowledged this for 30 min');
  });

  it('escapes HTML from the data', () => {
    const { html } = renderEmail(anomaly({ summary: '<script>alert(1)</script>' }));
    expect(html).not.toContain('<script>');
    expect(html).toContain('&lt;script&gt;');
  });

  it('renders a resolved episode without advice, offering only to say whether it was real', () => {
    const { subject, text } = renderEmail(anomaly({ status: 'resolved', impact_usd: 12 }), { links: { actions: ACTIONS } });
    expect(subject).toMatch(/^\[Burnrate\]\[resolved\] Session cost/);
    expect(text).toContain('Resolved: Session cost');
    expect(text).toContain('Impact while it lasted: $12 over the warning cap');
    expect(text).not.toContain('What to do');
    expect(text).not.toContain(ACTIONS.ack);
    expect(text).not.toContain(ACTIONS['snooze:1h']);
    expect(text).toContain(`Resolve: noise: ${ACTIONS['resolve:noise']}`);
  });

  it('lists every anomaly of a group, with one set of actions for them all', () => {
    const group = Array.from({ length: 30 }, (_, i) =>
      anomaly({
        id: `s${i}`,
        severity: i === 7 ? 'critical' : 'warning',
        subject: { session: `sess-${i}` },
        impact_usd: 10,
        summary: `Session sess-${i} <costly>`,
      }),
    );
    const pages = Object.fromEntries(group.map((a) => [a.id, `https://burnrate.acme.internal/anomalies/${a.id}`]));
    const { subject, text, html } = renderEmail(group[0]!, { group, links: { actions: ACTIONS, pages } });
    expect(subject).toBe('[Burnrate][critical] 30 anomalies for payments: Session cost $31.20 for alice@acme.com and 29 more');
    expect(text).toContain('Critical: 30 anomalies for payments, $300 of impact so far, all together');
    for (const a of group) {
      expect(text).toContain(`Session ${a.subject.session} <costly>`);
      expect(text).toContain(pages[a.id]);
      expect(html).toContain(`href="${pages[a.id]}"`);
    }
    expect(text).toContain(`For all 30:\nAcknowledge: ${ACTIONS.ack}`);
    expect(text.match(/Acknowledge: /g)).toHaveLength(1);
    expect(html).not.toContain('<costly>');
    // A group of one is an ordinary email.
    expect(renderEmail(group[0]!, { group: [group[0]!] }).subject).toBe(renderEmail(group[0]!).subject);
  });

  it('keeps the subject on one line whatever an event put in a name', () => {
    const { subject } = renderEmail(
      anomaly({ subject: { developer: 'mallory@acme.com\r\nBcc: all@acme.com\n\nhello', team: 'pay\u2028ments', model: undefined } }),
    );
    expect(subject).toBe('[Burnrate][warning] Session cost $31.20 for mallory@acme.com Bcc: all@acme.com hello (pay ments)');
  });

  it('escapes every field in the HTML', () => {
    const { html } = renderEmail(
      anomaly({
        summary: 'a "quoted" <b>bold</b> & \'single\'',
        advice: '<img src=x onerror=alert(1)>',
        subject: { developer: '<i>dev</i>', session: '"><script>', model: 'm<odel' },
        evidence: [{ at: '2026-11-27T13:00:00.000Z', label: '<label>', value: 1, unit: 'usd' }],
      }),
    );
    for (const raw of ['<b>', '<img', '<i>', '"><script>', 'm<odel', '<label>']) expect(html).not.toContain(raw);
    expect(html).toContain('a &quot;quoted&quot; &lt;b&gt;bold&lt;/b&gt; &amp; &#39;single&#39;');
    expect(html).toContain('&lt;img src=x onerror=alert(1)&gt;');
  });

  it('writes huge amounts in words in the subject, text and HTML', () => {
    const { subject, text, html } = renderEmail(
      anomaly({ observed: { value: 1e300, unit: 'usd' }, impact_usd: 1.5e12, projected_usd: 1e308 }),
    );
    expect(subject).toBe('[Burnrate][warning] Session cost over $1,000 trillion for alice@acme.com (payments)');
    expect(text).toContain('Impact: $1.5 trillion over the warning cap so far');
    for (const out of [subject, text, html]) expect(out).not.toMatch(/e\+|\d{16}|Infinity/);
  });
});
