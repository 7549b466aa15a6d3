import type { DeliveryRecord } from '@burnrate/store';
import { anomaly } from '@burnrate/testing/builders';
import { describe, expect, it } from 'vitest';
import { decide, type VersionFacts } from './decide.ts';

const delivery = (version: number, status: DeliveryRecord['status']): DeliveryRecord => ({
  anomaly_id: 'a1',
  version,
  receiver: 'slack:#payments-ai-spend',
  channel: 'slack',
  status,
  detail: status === 'sent' ? 'C1:1.1' : 'why',
  attempts: 1,
  at: '2026-11-27T14:00:00.000Z',
});

const warning = (impact = 6): VersionFacts => ({ severity: 'warning', status: 'open', impact_usd: impact });
const critical: VersionFacts = { severity: 'critical', status: 'open', impact_usd: 80 };
const resolved: VersionFacts = { severity: 'critical', status: 'resolved', impact_usd: 80 };

describe('decide', () => {
  it.each([
    ['first version → new', anomaly({ version: 1 }), [], {}, { action: 'send', reason: 'new' }],
    ['a later version is the first this receiver sees → new', anomaly({ version: 3 }), [], {}, { action: 'send', reason: 'new' }],
    ['same version already sent → done', anomaly({ version: 2 }), [delivery(2, 'sent')], {}, { action: 'done' }],
    ['same version already skipped → done', anomaly({ version: 2 }), [delivery(2, 'skipped')], {}, { action: 'done' }],
    ['same version failed before → tried again', anomaly({ version: 1 }), [delivery(1, 'failed')], {}, { action: 'send', reason: 'new' }],
    [
      "same version's send began and was never recorded, a newer one handled since → sent, not skipped (the channel is asked first)",
      anomaly({ version: 2 }),
      [delivery(1, 'sent'), delivery(2, 'pending'), delivery(3, 'sent')],
      { 1: warning() },
      { action: 'send', reason: 'updated' },
    ],
    [
      'a pending resolution of something never told → the resolution, settled through the channel',
      anomaly({ version: 2, status: 'resolved' }),
      [delivery(2, 'pending')],
      {},
      { action: 'send', reason: 'resolved' },
    ],
    [
      'severity went up → escalated',
      anomaly({ version: 2, severity: 'critical' }),
      [delivery(1, 'sent')],
      { 1: warning() },
      { action: 'send', reason: 'escalated' },
    ],
    [
      'impact doubled by $10+ at the same severity → grown',
      anomaly({ version: 2, impact_usd: 30 }),
      [delivery(1, 'sent')],
      { 1: warning(12) },
      { action: 'send', reason: 'grown' },
    ],
    [
      'resolved after being told → resolved note',
      anomaly({ version: 3, status: 'resolved', severity: 'critical' }),
      [delivery(1, 'sent'), delivery(2, 'sent')],
      { 2: critical },
      { action: 'send', reason: 'resolved' },
    ],
    ['last sent version unknown → updated', anomaly({ version: 2 }), [delivery(1, 'sent')], {}, { action: 'send', reason: 'updated' }],
    [
      'reopened after a sent resolution → new',
      anomaly({ version: 4 }),
      [delivery(3, 'sent')],
      { 3: resolved },
      { action: 'send', reason: 'new' },
    ],
  ] as const)('%s', (_name, a, history, facts, expected) => {
    expect(decide(a, history, (v) => (facts as Record<number, VersionFacts>)[v])).toEqual(expected);
  });

  it.each([
    [
      'impact grew a little → skipped',
      anomaly({ version: 2, impact_usd: 8 }),
      [delivery(1, 'sent')],
      { 1: warning(6) },
      'no change a human needs since v1: still warning, impact $8 (was $6)',
    ],
    [
      'doubled but by less than $10 → skipped',
      anomaly({ version: 2, impact_usd: 5 }),
      [delivery(1, 'sent')],
      { 1: warning(2) },
      'no change a human needs since v1: still warning, impact $5 (was $2)',
    ],
    [
      'severity fell → skipped',
      anomaly({ version: 3, severity: 'warning' }),
      [delivery(2, 'sent')],
      { 2: critical },
      'no change a human needs since v2: severity fell to warning',
    ],
    [
      'compares with the last sent version, not the last skipped',
      anomaly({ version: 3, impact_usd: 9 }),
      [delivery(1, 'sent'), delivery(2, 'skipped')],
      { 1: warning(6), 2: warning(7) },
      'no change a human needs since v1: still warning, impact $9 (was $6)',
    ],
    [
      'resolved but never told → skipped',
      anomaly({ version: 2, status: 'resolved' }),
      [],
      {},
      'resolved before this receiver was told about it',
    ],
    [
      'resolution already sent → skipped',
      anomaly({ version: 4, status: 'resolved' }),
      [delivery(3, 'sent')],
      { 3: resolved },
      'resolution already sent as v3',
    ],
    [
      'older than a version already handled → skipped',
      anomaly({ version: 1 }),
      [delivery(2, 'sent')],
      { 2: critical },
      'superseded: v2 already handled for this receiver',
    ],
  ] as const)('%s', (_name, a, history, facts, detail) => {
    expect(decide(a, history, (v) => (facts as Record<number, VersionFacts>)[v])).toEqual({ action: 'skip', detail });
  });
});
