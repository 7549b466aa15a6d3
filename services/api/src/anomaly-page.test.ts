import { signLinkToken, verifyLinkToken } from '@burnrate/notify';
import { anomaly } from '@burnrate/testing';
import { describe, expect, it } from 'vitest';
import { humanFixture } from '../test-support/fixture.ts';
import { anomalyPageRoute } from './anomaly-page.ts';

const SECRET = 'link-secret-of-at-least-32-characters!';
const NOW = new Date('2026-11-27T14:10:00Z');
const LATER = NOW.getTime() / 1000 + 3600;
const EVIL = `<script>alert(1)</script>"><img src=x onerror=alert(2)>'&`;

function setup(options: { secret?: string | null; apiToken?: string } = {}) {
  const f = humanFixture(NOW);
  const app = f.app([
    anomalyPageRoute({
      store: f.store,
      clock: f.clock,
      log: f.log,
      linkSecret: options.secret === null ? undefined : (options.secret ?? SECRET),
      apiToken: options.apiToken,
    }),
  ]);
  const get = (path: string, headers: Record<string, string> = {}) => app.inject({ method: 'GET', url: path, headers });
  return { ...f, get };
}

const v1 = anomaly({ id: 'a1', version: 1, detected_at: '2026-11-27T13:30:00.000Z' });
const v2 = anomaly({ id: 'a1', version: 2, severity: 'critical', impact_usd: 80, detected_at: '2026-11-27T14:05:00.000Z' });

describe('GET /anomalies/:id', () => {
  it('shows details, evidence, advice, where it stands, and every version, delivery and decision in one timeline', async () => {
    const t = setup();
    await t.seed(v1, v2);
    await t.store.insertAnomalyStates([
      { anomaly_id: 'a1', action: 'acknowledged', by: 'bob@acme.com', channel: 'slack', at: '2026-11-27T14:06:00.000Z' },
      {
        anomaly_id: 'a1',
        action: 'snoozed',
        by: 'bob@acme.com',
        channel: 'email',
        at: '2026-11-27T14:07:00.000Z',
        snoozed_until: '2026-11-27T15:07:00.000Z',
        note: 'deploy first',
      },
    ]);
    await t.store.insertDeliveries([
      {
        anomaly_id: 'a1',
        version: 1,
        receiver: 'slack:#payments-ai-spend',
        channel: 'slack',
        status: 'sent',
        detail: 'C0PAY:1795788000.000100',
        attempts: 1,
        at: '2026-11-27T13:30:02.000Z',
      },
      {
        anomaly_id: 'a1',
        version: 2,
        receiver: 'email:payments-leads@acme.com',
        channel: 'email',
        status: 'failed',
        detail: 'SMTP deferred (451)',
        attempts: 3,
        at: '2026-11-27T14:05:09.000Z',
      },
    ]);
    const res = await t.get('/anomalies/a1');
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toBe('text/html; charset=utf-8');
    const html = res.text();
    for (const fact of [
      'Critical: Session cost <span class="badge">snoozed</span>',
      v2.summary.replace(/'/g, '&#39;'),
      'Snoozed until 2026-11-27 15:07Z by bob@acme.com. Acknowledged by bob@acme.com at 2026-11-27 14:06Z.',
      '<th>Developer</th><td><strong>alice@acme.com</strong></td>',
      '<th>Impact</th><td><strong>$80 over the warning cap so far</strong></td>',
      '<th>If nothing changes</th><td><strong>$140 more before the team is likely to look</strong></td>',
      '<th>First detected</th><td><strong>2026-11-27 13:30Z</strong></td>',
      '<td>turn 40</td><td>$2.05</td>',
      v2.advice,
    ]) {
      expect(html).toContain(fact);
    }
    // One timeline, oldest first (anomaly-timeline.test.ts has the words of each kind of entry).
    const timeline = [
      ...html.matchAll(/<li data-kind="(\w+)"[^>]*><time datetime="[^"]+">([^<]+)<\/time> <strong[^>]*>([^<]+)<\/strong>/g),
    ].map((m) => `${m[2]} ${m[1]}: ${m[3]}`);
    expect(timeline).toEqual([
      '2026-11-27 13:30Z version: Version 1 raised (warning)',
      '2026-11-27 13:30Z delivery: Message sent to slack:#payments-ai-spend (version 1)',
      '2026-11-27 14:05Z version: Version 2 escalated to critical',
      '2026-11-27 14:05Z delivery: Message to email:payments-leads@acme.com failed after 3 attempts (version 2)',
      '2026-11-27 14:06Z decision: Acknowledged by bob@acme.com (slack)',
      '2026-11-27 14:07Z decision: Snoozed until 2026-11-27 15:07Z by bob@acme.com (email)',
    ]);
    expect(html).toContain('SMTP deferred (451)');
    expect(html).toContain('“deploy first”');
    expect(html).not.toContain('<h2>Deliveries</h2>');
  });

  it('says an anomaly a backfill found was never sent, and says nothing of it for a live one', async () => {
    const t = setup();
    await t.seed({ ...v1, id: 'found', historical: true }, v2);
    expect((await t.get('/anomalies/found')).text()).toContain('Found by a backfill');
    expect((await t.get('/anomalies/a1')).text()).not.toContain('Found by a backfill');
  });

  it('escapes every value a detector, a person or a provider put there', async () => {
    const t = setup();
    const hostile = anomaly({
      id: 'evil',
      summary: EVIL,
      advice: EVIL,
      subject: { team: 'payments', developer: EVIL, session: EVIL, model: EVIL },
      evidence: [{ at: '2026-11-27T13:00:00.000Z', label: EVIL, value: 1, unit: 'usd' }],
    });
    await t.seed(hostile);
    await t.store.insertAnomalyStates([
      { anomaly_id: 'evil', action: 'resolved', reason: 'noise', by: EVIL, channel: 'email', at: '2026-11-27T14:00:00.000Z', note: EVIL },
    ]);
    await t.store.insertDeliveries([
      {
        anomaly_id: 'evil',
        version: 1,
        receiver: EVIL,
        channel: 'webhook',
        status: 'failed',
        detail: EVIL,
        attempts: 1,
        at: '2026-11-27T14:00:00.000Z',
      },
    ]);
    const html = (await t.get('/anomalies/evil', {})).text();
    expect(html).not.toMatch(/<script|<img|onerror=alert\(2\)>/);
    expect(
      html.match(/&lt;script&gt;alert\(1\)&lt;\/script&gt;&quot;&gt;&lt;img src=x onerror=alert\(2\)&gt;&#39;&amp;/g)?.length,
    ).toBeGreaterThanOrEqual(9);
    // Nothing loads from anywhere: no script, no image, no stylesheet link, no external URL.
    expect(html).not.toMatch(/<[^>]*\s(src|href)=/);
    expect(html).not.toMatch(/https?:\/\//);
  });

  it('offers buttons as forms that post freshly signed tokens for the viewer, only Resolve once it is over', async () => {
    const t = setup();
    await t.seed(v2, anomaly({ id: 'done', status: 'resolved' }));
    const view = signLinkToken(SECRET, { anomalyIds: ['a1'], action: 'view', by: 'payments-leads@acme.com', expiresAt: LATER });
    const html = (await t.get(`/anomalies/a1?t=${view}`)).text();
    const tokens = [...html.matchAll(/<form class="inline" method="post" action="\.\.\/act\/([^"]+)">/g)].map((m) => m[1] as string);
    expect(tokens).toHaveLength(7);
    const claims = tokens.map((tk) => verifyLinkToken(SECRET, tk, NOW));
    expect(claims.map((c) => (c.ok ? [c.claims.action, c.claims.by, c.claims.anomalyIds, c.claims.via] : c.problem))).toEqual(
      ['ack', 'snooze:1h', 'snooze:tomorrow', 'snooze:1w', 'resolve:expected', 'resolve:real', 'resolve:noise'].map((a) => [
        a,
        'payments-leads@acme.com',
        ['a1'],
        'console',
      ]),
    );
    expect(html).toContain('As <strong>payments-leads@acme.com</strong>.');
    // Open mode (no API token): anyone who reaches the page acts as `web`.
    const done = (await t.get('/anomalies/done')).text();
    const doneActions = [...done.matchAll(/action="\.\.\/act\/([^"]+)"/g)].map((m) => {
      const v = verifyLinkToken(SECRET, m[1] as string, NOW);
      return v.ok ? `${v.claims.action} ${v.claims.by}` : v.problem;
    });
    expect(doneActions).toEqual(['resolve:expected web', 'resolve:real web', 'resolve:noise web']);
  });

  it('shows no buttons without a link secret, and says why', async () => {
    const t = setup({ secret: null });
    await t.seed(v2);
    const html = (await t.get('/anomalies/a1')).text();
    expect(html).not.toContain('<form');
    expect(html).toContain('Buttons need BURNRATE_LINK_SECRET');
  });

  it('needs the API token or a view link for this anomaly when the API token is set', async () => {
    const t = setup({ apiToken: 'api-token-123' });
    await t.seed(v2, anomaly({ id: 'a2' }));
    expect((await t.get('/anomalies/a1')).status).toBe(401);
    expect((await t.get('/anomalies/a1', { authorization: 'Bearer wrong' })).status).toBe(401);
    const asApi = await t.get('/anomalies/a1', { authorization: 'Bearer api-token-123' });
    expect(asApi.status).toBe(200);
    expect(asApi.text()).toContain('As <strong>api</strong>.');

    const forA2 = signLinkToken(SECRET, { anomalyIds: ['a2'], action: 'view', by: 'x@acme.com', expiresAt: LATER });
    expect((await t.get(`/anomalies/a1?t=${forA2}`)).status).toBe(400);
    expect((await t.get(`/anomalies/a2?t=${forA2}`)).status).toBe(200);
    const expired = signLinkToken(SECRET, { anomalyIds: ['a1'], action: 'view', by: 'x@acme.com', expiresAt: NOW.getTime() / 1000 - 1 });
    expect((await t.get(`/anomalies/a1?t=${expired}`)).status).toBe(410);
    expect((await t.get(`/anomalies/a1?t=garbage`)).status).toBe(400);
    // An action link works as a view link for its own anomaly: its holder could act anyway.
    const ack = signLinkToken(SECRET, { anomalyIds: ['a1'], action: 'ack', by: 'x@acme.com', expiresAt: LATER });
    expect((await t.get(`/anomalies/a1?t=${ack}`)).status).toBe(200);
  });

  it('lists the incident it was sent in, cause first, each member linked with a view link of its own for a link holder', async () => {
    const t = setup({ apiToken: 'api-token-123' });
    const drop = anomaly({
      id: 'drop',
      kind: 'cache_efficiency_drop',
      subject: { developer: undefined, session: undefined, model: undefined },
      impact_usd: 40,
    });
    const member = anomaly({ id: 'sess-cost', subject: { session: 's9' } });
    await t.seed(drop, member);
    const sent = (id: string, at: string) => ({
      anomaly_id: id,
      version: 1,
      receiver: 'slack:#payments-ai-spend',
      channel: 'slack',
      status: 'sent' as const,
      detail: 'C0PAY:1795788000.000100',
      attempts: 1,
      at,
    });
    await t.store.insertDeliveries([sent('drop', '2026-11-27T13:30:02.000Z'), sent('sess-cost', '2026-11-27T13:40:02.000Z')]);
    const view = signLinkToken(SECRET, { anomalyIds: ['sess-cost'], action: 'view', by: 'x@acme.com', expiresAt: LATER });
    const html = (await t.get(`/anomalies/sess-cost?t=${view}`)).text();
    expect(html).toContain('<h2>Incident</h2>');
    const rows = html.slice(html.indexOf('<h2>Incident</h2>')).split('<tr>').slice(2);
    expect(rows[0]).toContain('Cache efficiency drop');
    expect(rows[1]).toContain('Session cost (this one)');
    const link = /href="drop\?t=([^"]+)"/.exec(rows[0] ?? '')?.[1] ?? '';
    expect(verifyLinkToken(SECRET, decodeURIComponent(link), NOW)).toMatchObject({
      ok: true,
      claims: { anomalyIds: ['drop'], action: 'view' },
    });
    expect((await t.get(`/anomalies/drop?t=${link}`)).status).toBe(200);
    // Sent alone: no incident section.
    await t.seed(anomaly({ id: 'alone', subject: { session: 's10' } }));
    await t.store.insertDeliveries([{ ...sent('alone', '2026-11-27T13:50:00.000Z'), detail: 'C0PAY:1795788999.000100' }]);
    expect((await t.get('/anomalies/alone', { authorization: 'Bearer api-token-123' })).text()).not.toContain('<h2>Incident</h2>');
  });

  it('answers 404 for an anomaly it does not know, escaping the id', async () => {
    const t = setup();
    const res = await t.get(`/anomalies/${encodeURIComponent('<b>nope</b>')}`);
    expect(res.status).toBe(404);
    expect(res.text()).toContain('Burnrate has no anomaly &lt;b&gt;nope&lt;/b&gt;.');
  });
});
