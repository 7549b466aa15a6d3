/**
 * Welford's running mean and variance: exact, O(1) per value and numerically stable (no sum of
 * squares that cancels). `mergeWelford` combines two partial states (Chan et al.), so partial
 * aggregates from several stage-A instances add up to the statistic of the whole.
 */
export interface Welford {
  count: number;
  mean: number;
  /** Sum of squared deviations from the mean. */
  m2: number;
}

export function createWelford(): Welford {
  return { count: 0, mean: 0, m2: 0 };
}

export function updateWelford(s: Welford, x: number): Welford {
  s.count += 1;
  const diff = x - s.mean;
  s.mean += diff / s.count;
  s.m2 += diff * (x - s.mean);
  return s;
}

/** Adds `b` into `a` (in place) as if every value of `b` had been folded into `a`. */
export function mergeWelford(a: Welford, b: Welford): Welford {
  if (b.count === 0) return a;
  if (a.count === 0) {
    a.count = b.count;
    a.mean = b.mean;
    a.m2 = b.m2;
    return a;
  }
  const count = a.count + b.count;
  const delta = b.mean - a.mean;
  a.mean += (delta * b.count) / count;
  a.m2 += b.m2 + (delta * delta * a.count * b.count) / count;
  a.count = count;
  return a;
}

/** Population variance (divides by n); 0 before any value. */
export function welfordVariance(s: Welford): number {
  return s.count > 0 ? s.m2 / s.count : 0;
}

/** Sample variance (divides by n − 1); 0 before two values. */
export function welfordSampleVariance(s: Welford): number {
  return s.count > 1 ? s.m2 / (s.count - 1) : 0;
}
