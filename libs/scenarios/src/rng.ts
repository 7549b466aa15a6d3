/**
 * A seeded pseudo-random source (sfc32 seeded through splitmix32). Every draw of the scenario
 * generator goes through one of these, never Math.random, so a seed always gives the same bytes.
 * Streams are forked per developer and per incident: adding an incident does not reshuffle
 * everybody else's week.
 */
export interface Rng {
  /** Uniform in [0, 1). */
  next(): number;
  /** Uniform integer in [min, max]. */
  int(min: number, max: number): number;
  /** Uniform real in [min, max). */
  between(min: number, max: number): number;
  chance(p: number): boolean;
  pick<T>(items: readonly T[]): T;
  /** Standard normal (Box-Muller). */
  normal(): number;
  /** exp(N(ln(median), sigma)): skewed positive quantities such as gaps and token counts. */
  logNormal(median: number, sigma: number): number;
  /** Poisson with the given mean (Knuth; means here are small). */
  poisson(mean: number): number;
  /** Random-looking UUID v4 text, from this stream. */
  uuid(): string;
  /** An independent stream named by `label`, e.g. a developer's email. */
  fork(label: string): Rng;
}

function splitmix32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x9e3779b9) >>> 0;
    let z = a;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
    return (z ^ (z >>> 16)) >>> 0;
  };
}

function labelHash(label: string): number {
  // FNV-1a: only used to derive fork seeds, so speed and spread matter, not strength.
  let h = 0x811c9dc5;
  for (let i = 0; i < label.length; i++) h = Math.imul(h ^ label.charCodeAt(i), 0x01000193);
  return h >>> 0;
}

export function createRng(seed: number): Rng {
  const init = splitmix32(seed);
  let a = init();
  let b = init();
  let c = init();
  let d = init();
  const u32 = (): number => {
    const t = (((a + b) >>> 0) + d) >>> 0;
    d = (d + 1) >>> 0;
    a = b ^ (b >>> 9);
    b = (c + (c << 3)) >>> 0;
    c = (c << 21) | (c >>> 11);
    c = (c + t) >>> 0;
    return t;
  };
  for (let i = 0; i < 12; i++) u32();
  const next = (): number => u32() / 4294967296;
  const normal = (): number => {
    const u = 1 - next();
    const v = next();
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
  };
  const hex = (n: number): string => {
    let s = '';
    while (s.length < n) s += u32().toString(16).padStart(8, '0');
    return s.slice(0, n);
  };
  return {
    next,
    int: (min, max) => min + Math.floor(next() * (max - min + 1)),
    between: (min, max) => min + next() * (max - min),
    chance: (p) => next() < p,
    pick<T>(items: readonly T[]): T {
      if (items.length === 0) throw new Error('pick from an empty list');
      return items[Math.floor(next() * items.length)] as T;
    },
    normal,
    logNormal: (median, sigma) => median * Math.exp(sigma * normal()),
    poisson(mean) {
      const limit = Math.exp(-mean);
      let k = 0;
      let p = next();
      while (p > limit) {
        k += 1;
        p *= next();
      }
      return k;
    },
    uuid() {
      const h = hex(32);
      return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-${'89ab'[u32() % 4] ?? '8'}${h.slice(17, 20)}-${h.slice(20, 32)}`;
    },
    fork: (label) => createRng((seed ^ labelHash(label)) >>> 0),
  };
}
