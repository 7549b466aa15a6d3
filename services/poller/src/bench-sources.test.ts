import { describe, expect, it } from 'vitest';
import { benchSources } from './bench-sources.ts';

describe('the normalisation bench’s report pages', () => {
  it('read as the poller reads them: every row of a page of each source, with distinct keys', async () => {
    const sources = benchSources(7);
    expect(sources.map((s) => s.source)).toContain('copilot_metrics');
    expect(sources.map((s) => s.source)).toContain('cursor_daily');
    expect(sources.map((s) => s.source)).toEqual(
      expect.arrayContaining(['anthropic_cost_report', 'claude_code_analytics', 'openai_costs']),
    );
    for (const s of sources) {
      const rows = await s.rows(s.body);
      // Claude Code's analytics has a record per user and day, and a row per model in it.
      if (s.source === 'claude_code_analytics') expect(rows.length, s.source).toBeGreaterThan(7);
      else expect(rows, s.source).toHaveLength(7);
      expect(new Set(rows.map((r) => JSON.stringify(r.key))).size, s.source).toBe(rows.length);
      // The baseline parses the same bytes.
      const documents = s.format === 'json' ? [s.body] : s.body.split('\n');
      for (const d of documents) expect(() => JSON.parse(d) as unknown, s.source).not.toThrow();
    }
  });
});
