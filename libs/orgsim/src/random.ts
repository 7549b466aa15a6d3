/**
 * A small seeded generator (xoshiro128**) with named sub-streams: each part of the organisation
 * draws from its own stream, so adding a developer or an incident does not shift anyone else's
 * numbers.
 */

function hash32(text: string): number {
  // FNV-1a, then a final avalanche so similar names give unrelated seeds.
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  return h >>> 0;
}

export class Random {
  private s0: number;
  private s1: number;
  private s2: number;
  private s3: number;

  private readonly seedText: string;

  constructor(seedText: string) {
    this.seedText = seedText;
    this.s0 = hash32(`${seedText}#0`) | 1;
    this.s1 = hash32(`${seedText}#1`);
    this.s2 = hash32(`${seedText}#2`);
    this.s3 = hash32(`${seedText}#3`);
  }

  /** A stream of its own for `name`, independent of how much this one has been used. */
  stream(name: string): Random {
    return new Random(`${this.seedText}/${name}`);
  }

  /** Uniform in [0, 1). */
  float(): number {
    const result = Math.imul(rotl(Math.imul(this.s1, 5), 7), 9) >>> 0;
    const t = this.s1 << 9;
    this.s2 ^= this.s0;
    this.s3 ^= this.s1;
    this.s1 ^= this.s2;
    this.s0 ^= this.s3;
    this.s2 ^= t;
    this.s3 = rotl(this.s3, 11);
    return result / 4_294_967_296;
  }

  between(lo: number, hi: number): number {
    return lo + (hi - lo) * this.float();
  }

  /** Integer in [lo, hi]. */
  int(lo: number, hi: number): number {
    return lo + Math.floor(this.float() * (hi - lo + 1));
  }

  chance(p: number): boolean {
    return this.float() < p;
  }

  pick<T>(items: readonly T[]): T {
    if (items.length === 0) throw new Error('pick from an empty list');
    return items[Math.floor(this.float() * items.length)] as T;
  }

  /** Exponential with the given mean. */
  exponential(mean: number): number {
    return -mean * Math.log(1 - this.float());
  }

  /** Poisson count with the given mean (Knuth; means here are small). */
  poisson(mean: number): number {
    const limit = Math.exp(-mean);
    let k = 0;
    let p = this.float();
    while (p > limit) {
      k += 1;
      p *= this.float();
    }
    return k;
  }

  /** Log-normal around `median` with spread `sigma` (in log space). */
  logNormal(median: number, sigma: number): number {
    const u = Math.max(1e-12, this.float());
    const z = Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * this.float());
    return median * Math.exp(sigma * z);
  }

  hex(chars: number): string {
    let s = '';
    while (s.length < chars)
      s += Math.floor(this.float() * 4_294_967_296)
        .toString(16)
        .padStart(8, '0');
    return s.slice(0, chars);
  }
}

function rotl(x: number, k: number): number {
  return (x << k) | (x >>> (32 - k));
}
