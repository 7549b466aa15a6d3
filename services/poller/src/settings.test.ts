import { describe, expect, it } from 'vitest';
import { readPollerSettings } from './settings.ts';

describe('readPollerSettings', () => {
  it('defaults: no provider, the public API URLs, one report per provider, a poll every 5 minutes, 3 buckets of overlap, 7 days of backfill', () => {
    expect(readPollerSettings({})).toEqual({
      ANTHROPIC_API_URL: 'https://api.anthropic.com',
      OPENAI_API_URL: 'https://api.openai.com',
      CURSOR_API_URL: 'https://api.cursor.com',
      GITHUB_API_URL: 'https://api.github.com',
      GITHUB_COPILOT_PER_USER: true,
      BURNRATE_POLL_SOURCES: new Set(['anthropic_usage_report', 'openai_usage', 'cursor_events', 'copilot_premium']),
      BURNRATE_POLL_INTERVAL: 300_000,
      BURNRATE_POLL_OVERLAP_BUCKETS: 3,
      BURNRATE_POLL_BACKFILL: 7 * 86_400_000,
    });
  });

  it('reads the keys, base URLs (without a trailing slash) and durations; an empty value is unset', () => {
    const settings = readPollerSettings({
      ANTHROPIC_ADMIN_API_KEY: 'sk-ant-admin01-x',
      ANTHROPIC_API_URL: 'http://127.0.0.1:9999/',
      OPENAI_ADMIN_KEY: '',
      BURNRATE_POLL_INTERVAL: '90s',
      BURNRATE_POLL_OVERLAP_BUCKETS: '6',
      BURNRATE_POLL_BACKFILL: '2d',
    });
    expect(settings).toMatchObject({
      ANTHROPIC_ADMIN_API_KEY: 'sk-ant-admin01-x',
      ANTHROPIC_API_URL: 'http://127.0.0.1:9999',
      BURNRATE_POLL_INTERVAL: 90_000,
      BURNRATE_POLL_OVERLAP_BUCKETS: 6,
      BURNRATE_POLL_BACKFILL: 2 * 86_400_000,
    });
    expect(settings.OPENAI_ADMIN_KEY).toBeUndefined();
  });

  it('names every bad setting, and never echoes a key', () => {
    const read = () =>
      readPollerSettings({
        ANTHROPIC_ADMIN_API_KEY: '   ',
        OPENAI_API_URL: 'ftp://example.com',
        BURNRATE_POLL_INTERVAL: 'often',
        BURNRATE_POLL_OVERLAP_BUCKETS: '0',
        BURNRATE_POLL_BACKFILL: '90d',
      });
    expect(read).toThrow(
      /ANTHROPIC_ADMIN_API_KEY: .*OPENAI_API_URL: expected an http\(s\) URL.*BURNRATE_POLL_INTERVAL: expected a duration such as 5m, 1h or 7d, not "often".*BURNRATE_POLL_OVERLAP_BUCKETS: .*BURNRATE_POLL_BACKFILL: must be from 3600s to 31d/,
    );
    expect(() => readPollerSettings({ BURNRATE_POLL_INTERVAL: '1s' })).toThrow(/BURNRATE_POLL_INTERVAL: must be from 10s to 1d/);
  });

  it('needs the GitHub organization with a GitHub token, and reads per-user attribution as a boolean', () => {
    expect(() => readPollerSettings({ GITHUB_COPILOT_TOKEN: 'github_pat_x' })).toThrow(
      'poller settings: GITHUB_ORG: required when GITHUB_COPILOT_TOKEN is set: the organization to poll',
    );
    // Named with the other bad settings.
    expect(() => readPollerSettings({ GITHUB_COPILOT_TOKEN: 'github_pat_x', BURNRATE_POLL_INTERVAL: 'often' })).toThrow(
      /BURNRATE_POLL_INTERVAL: .*; GITHUB_ORG: required when GITHUB_COPILOT_TOKEN is set/,
    );
    expect(() => readPollerSettings({ GITHUB_COPILOT_TOKEN: 'github_pat_x', GITHUB_ORG: 'acme/../admin' })).toThrow(
      /GITHUB_ORG: expected an organization login such as acme/,
    );
    expect(
      readPollerSettings({ GITHUB_COPILOT_TOKEN: 'github_pat_x', GITHUB_ORG: ' acme-corp ', GITHUB_COPILOT_PER_USER: 'false' }),
    ).toMatchObject({
      GITHUB_COPILOT_TOKEN: 'github_pat_x',
      GITHUB_ORG: 'acme-corp',
      GITHUB_COPILOT_PER_USER: false,
    });
    expect(() => readPollerSettings({ GITHUB_COPILOT_PER_USER: 'sometimes' })).toThrow(/GITHUB_COPILOT_PER_USER: expected true or false/);
    // An organization alone polls nothing and is no error.
    expect(readPollerSettings({ GITHUB_ORG: 'acme' }).GITHUB_COPILOT_TOKEN).toBeUndefined();
  });

  it('reads the reports to poll, naming one it does not know', () => {
    expect(readPollerSettings({ BURNRATE_POLL_SOURCES: ' anthropic_cost_report, openai_costs ' }).BURNRATE_POLL_SOURCES).toEqual(
      new Set(['anthropic_cost_report', 'openai_costs']),
    );
    expect(() => readPollerSettings({ BURNRATE_POLL_SOURCES: 'anthropic_usage_report,cursor' })).toThrow(
      'poller settings: BURNRATE_POLL_SOURCES: unknown "cursor"; the sources are anthropic_usage_report, anthropic_cost_report, claude_code_analytics, openai_usage, openai_costs',
    );
    expect(() => readPollerSettings({ BURNRATE_POLL_SOURCES: ' , ' })).toThrow(/BURNRATE_POLL_SOURCES: names no source/);
  });
});
