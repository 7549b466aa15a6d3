import { describe, expect, it } from 'vitest';
import { revision } from './poller.ts';

describe('revision', () => {
  it('carries only the growth of each total, and the totals published after it', () => {
    const change = revision(
      { requests: 0, input_tokens: 100, output_tokens: 300, cache_write_tokens: 10, cache_write_1h_tokens: 4 },
      { requests: 0, input_tokens: 100, output_tokens: 1300, cache_write_tokens: 16, cache_write_1h_tokens: 6 },
    );
    expect(change).toEqual({
      grew: true,
      fell: false,
      delta: { requests: 0, input_tokens: 0, output_tokens: 1000, cache_write_tokens: 6, cache_write_1h_tokens: 2 },
      published: { requests: 0, input_tokens: 100, output_tokens: 1300, cache_write_tokens: 16, cache_write_1h_tokens: 6 },
    });
  });

  it('is no change for the same figures, and float noise in a cost is not a revision', () => {
    expect(revision({ output_tokens: 5, cost_usd: 0.1 + 0.2 }, { output_tokens: 5, cost_usd: 0.3 })).toMatchObject({
      grew: false,
      fell: false,
    });
  });

  it('does not publish a fall: the published figure stays, and the fall is reported', () => {
    const change = revision({ output_tokens: 300, input_tokens: 10 }, { output_tokens: 250, input_tokens: 20 });
    expect(change).toEqual({
      grew: true,
      fell: true,
      delta: { output_tokens: 0, input_tokens: 10 },
      published: { output_tokens: 300, input_tokens: 20 },
    });
  });

  it('keeps the 1-hour writes of a correction within its writes', () => {
    // More of the writes turned out to be 1-hour ones: the total grew by 1, the 1-hour part by 5.
    const change = revision({ cache_write_tokens: 10, cache_write_1h_tokens: 0 }, { cache_write_tokens: 11, cache_write_1h_tokens: 5 });
    expect(change.delta).toEqual({ cache_write_tokens: 1, cache_write_1h_tokens: 1 });
  });

  it('grows a reported cost by the difference', () => {
    const change = revision({ cost_usd: 1.2345 }, { cost_usd: 2 });
    // To 1e-10 USD, without the float noise of the subtraction.
    expect(change.delta.cost_usd).toBe(0.7655);
    expect(change.published).toEqual({ cost_usd: 2 });
  });
});
