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
