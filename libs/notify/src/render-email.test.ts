import { anomaly } from '@burnrate/testing/builders';
import { describe, expect, it } from 'vitest';
import { renderEmail } from './render-email.ts';

describe('renderEmail', () => {
  const critical = anomaly({ severity: 'critical', observed: { value: 104.2, unit: 'usd' }, impact_usd: 79.2, projected_usd: 310 });

  it('has a subject naming severity, kind, cost, developer and team', () => {
    expect(renderEmail(critical).subject).toBe('[Burnrate][critical] Session cost $104.20 for alice@acme.com (payments)');
  });

  it('carries the same facts in text and HTML', () => {
    const { text, html } = renderEmail(critical);
    for (const fact of [
      'Critical: Session cost',
      critical.summary.replace(/'/g, '&#39;'),
      'payments',
      'alice@acme.com',
      'sess-1',
      '$104.20 (4.2× expected)',
      '$79.20',
      '$310.00',
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
      'Observed: $104.20 (4.2× expected)',
      'Impact so far: $79.20',
      'Projected if it goes on: $310.00',
      `What to do: ${critical.advice}`,
    ]) {
      expect(text).toContain(fact);
    }
  });

  it('adds an acknowledge link only when given one', () => {
    expect(renderEmail(critical).text).not.toContain('Acknowledge');
    const { text, html } = renderEmail(critical, { acknowledgeUrl: 'https://burnrate.acme.internal/anomalies/a1#acknowledge' });
    expect(text).toContain('Acknowledge: https://burnrate.acme.internal/anomalies/a1#acknowledge');
    expect(html).toContain('href="https://burnrate.acme.internal/anomalies/a1#acknowledge"');
  });

  it('escapes HTML from the data', () => {
    const { html } = renderEmail(anomaly({ summary: '<script>alert(1)</script>' }));
    expect(html).not.toContain('<script>');
    expect(html).toContain('&lt;script&gt;');
  });

  it('renders a resolved episode without advice or link', () => {
    const { subject, text } = renderEmail(anomaly({ status: 'resolved', impact_usd: 12 }), { acknowledgeUrl: 'https://x/y' });
    expect(subject).toMatch(/^\[Burnrate\]\[resolved\] Session cost/);
    expect(text).toContain('Resolved: Session cost');
    expect(text).toContain('Impact while it lasted: $12.00');
    expect(text).not.toContain('What to do');
    expect(text).not.toContain('https://x/y');
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
    expect(text).toContain('Impact so far: $1.5 trillion');
    for (const out of [subject, text, html]) expect(out).not.toMatch(/e\+|\d{16}|Infinity/);
  });
});
