import { fixedConfig } from '@burnrate/core';
import { describe, expect, it } from 'vitest';
import { humanFixture } from '../test-support/fixture.ts';
import { humanRoutes } from './human-routes.ts';

function build(env: Record<string, string>) {
  const f = humanFixture();
  const built = humanRoutes({ config: fixedConfig(f.config), store: f.store, recorder: f.recorder, clock: f.clock, log: f.log, env });
  return { ...f, built };
}

describe('humanRoutes', () => {
  it('serves Slack interactivity, action links and the anomaly page, and says which are on', () => {
    const { built, logs } = build({ SLACK_SIGNING_SECRET: 's', BURNRATE_LINK_SECRET: 'x'.repeat(32) });
    expect(built.routes.map((r) => `${r.method} ${r.path}`)).toEqual([
      'POST /slack/interactions',
      'GET /act/:token',
      'POST /act/:token',
      'GET /anomalies/:id',
    ]);
    expect(built.status).toEqual({ slack_interactions: 'on (/slack/interactions)', action_links: 'on' });
    expect(logs.find((l) => l.msg === 'Slack interactivity is on')?.requestUrl).toBe('https://burnrate.acme.internal/slack/interactions');
  });

  it('says at start what is off and why', () => {
    const { built, logs } = build({});
    expect(built.status).toEqual({
      slack_interactions: 'off (SLACK_SIGNING_SECRET not set)',
      action_links: 'off (BURNRATE_LINK_SECRET not set)',
    });
    expect(logs.map((l) => l.msg)).toEqual(
      expect.arrayContaining([
        'Slack interactivity is off: SLACK_SIGNING_SECRET is not set, so button presses are answered 404',
        'action links are off: BURNRATE_LINK_SECRET is not set, so emails carry no Acknowledge / Snooze / Resolve links',
      ]),
    );
  });

  it('refuses to start with a link secret short enough to guess', () => {
    expect(() => build({ BURNRATE_LINK_SECRET: 'hunter2' })).toThrow(/BURNRATE_LINK_SECRET is 7 characters; it needs at least 32/);
  });
});
