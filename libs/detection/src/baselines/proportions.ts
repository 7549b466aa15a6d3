import { errorFunction } from 'simple-statistics';

/**
 * One-sided two-proportion z-test: the p-value of seeing `k1/n1` this far above `k2/n2` if both
 * came from the same proportion. Counts may be exponentially weighted (effective counts), which
 * the normal approximation takes as they are. 1 when either sample is empty or nothing varies.
 */
export function twoProportionPValue(k1: number, n1: number, k2: number, n2: number): number {
  if (n1 <= 0 || n2 <= 0) return 1;
  const p1 = k1 / n1;
  const p2 = k2 / n2;
  const pooled = (k1 + k2) / (n1 + n2);
  const se = Math.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n2));
  if (!(se > 0)) return p1 > p2 ? 0 : 1;
  const z = (p1 - p2) / se;
  // Upper tail of the standard normal: 1 − Φ(z) = erfc(z/√2)/2.
  return Math.min(1, Math.max(0, 0.5 * (1 - errorFunction(z / Math.SQRT2))));
}

/**
 * P(X ≥ k) for X the number of successes among independent trials with their own success
 * probabilities `ps` (the Poisson binomial distribution), exact by dynamic programming in
 * O(n·k). The unit of model_mix_drift's breadth test: developers active in a window, each with
 * its own habit, rather than their calls (one session's calls all follow its model, so counting
 * them as independent makes one session look like overwhelming evidence).
 */
export function poissonBinomialTail(ps: readonly number[], k: number): number {
  if (k <= 0) return 1;
  const n = ps.length;
  if (k > n) return 0;
  // dist[j] = P(exactly j successes so far) for j < k; `atLeast` collects the mass reaching k.
  const dist = new Array<number>(k).fill(0);
  dist[0] = 1;
  let atLeast = 0;
  for (let i = 0; i < n; i++) {
    const p = Math.min(1, Math.max(0, ps[i] as number));
    atLeast += (dist[k - 1] as number) * p;
    for (let j = k - 1; j >= 1; j--) dist[j] = (dist[j] as number) * (1 - p) + (dist[j - 1] as number) * p;
    dist[0] = dist[0] * (1 - p);
  }
  return Math.min(1, Math.max(0, atLeast));
}
