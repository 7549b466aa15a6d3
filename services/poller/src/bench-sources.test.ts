import { describe, expect, it } from 'vitest';
import { benchSources } from './bench-sources.ts';

describe('the normalisation bench’s report pages', () => {
  it('read as the poller reads them: every row of a page of each source, with distinct keys', async () => {
    for (const s of benchSources(7)) {
      const rows = await s.rows(JSON.stringify(s.page));
      expect(rows, s.source).toHaveLength(7);
      expect(new Set(rows.map((r) => JSON.stringify(r.key))).size, s.source).toBe(7);
    }
  });
});
