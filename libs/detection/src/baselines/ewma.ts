/**
 * Exponentially weighted mean, variance and mean absolute deviation, O(1) per value.
 *
 * The first values are weighted 1/count instead of `alpha` (so the first `1/alpha` updates give
 * the plain running mean and population variance, exactly Welford's), then the weight settles at
 * `alpha`: a fresh key's estimate is an average, not a value dragged toward the initial zero.
 */
export interface Ewma {
  mean: number;
  variance: number;
  /** Weighted mean of |value − mean before the value|: a robust-ish scale that is cheap to keep. */
  absDev: number;
  count: number;
}

export function createEwma(): Ewma {
  return { mean: 0, variance: 0, absDev: 0, count: 0 };
}

/** Folds `x` in place and returns the same object. */
export function updateEwma(s: Ewma, x: number, alpha: number): Ewma {
  s.count += 1;
  const a = Math.max(alpha, 1 / s.count);
  const diff = x - s.mean;
  const incr = a * diff;
  s.absDev = s.count === 1 ? 0 : (1 - a) * s.absDev + a * Math.abs(diff);
  s.mean += incr;
  s.variance = (1 - a) * (s.variance + diff * incr);
  return s;
}

/** Numbers per EWMA in a flat array: [mean, absDev, count]. Compact states keep many in one array. */
export const EWMA_FIELDS = 3;

/**
 * The flat-array form used by per-key states, where one array of doubles costs far less than as
 * many objects. With `clamp`, the residual is limited to ±clamp before it is folded in
 * (winsorising), so one outlier moves the mean by at most `alpha · clamp` and an alerting spike
 * does not become tomorrow's baseline; a lasting shift still gets in, step by step, because the
 * absolute deviation grows with it and widens the clamp the caller derives from it.
 */
export function updateEwmaAt(a: number[], i: number, x: number, alpha: number, clamp = Number.POSITIVE_INFINITY): void {
  const count = (a[i + 2] as number) + 1;
  a[i + 2] = count;
  const w = Math.max(alpha, 1 / count);
  const mean = a[i] as number;
  const diff = Math.max(-clamp, Math.min(clamp, x - mean));
  a[i + 1] = count === 1 ? 0 : (1 - w) * (a[i + 1] as number) + w * Math.abs(diff);
  a[i] = mean + w * diff;
}

/** Normal σ ≈ 1.2533 × mean absolute deviation; turns `absDev` into a z-score scale. */
export const ABS_DEV_TO_SIGMA = Math.sqrt(Math.PI / 2);
