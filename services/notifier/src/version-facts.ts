import type { Anomaly } from '@burnrate/schemas';
import type { DeliveryRecord, Store } from '@burnrate/store';
import { factsOf, type VersionFacts } from './decide.ts';

// Facts of versions seen, so comparing v3 with v2 needs no store read in the common case.
const SEEN_MAX_ANOMALIES = 10_000;

/** What `decide` needs of the versions receivers were already sent, by anomaly. */
export interface VersionFactsCache {
  /** Keeps `a`'s facts: the next version is compared with it without reading the store. */
  remember(a: Anomaly): void;
  /** Facts for every version of `a` the receivers were sent; reads the store only for ones not seen here. */
  sentVersions(a: Anomaly, history: readonly DeliveryRecord[]): Promise<(version: number) => VersionFacts | undefined>;
}

/** The cache, least recently used anomalies forgotten first past SEEN_MAX_ANOMALIES. */
export function createVersionFactsCache(store: Pick<Store, 'anomalyVersions'>): VersionFactsCache {
  const seen = new Map<string, Map<number, VersionFacts>>();

  const remember = (id: string, version: number, facts: VersionFacts): void => {
    const versions = seen.get(id) ?? new Map<number, VersionFacts>();
    versions.set(version, facts);
    seen.delete(id);
    seen.set(id, versions);
    if (seen.size > SEEN_MAX_ANOMALIES) {
      const oldest = seen.keys().next().value;
      if (oldest !== undefined) seen.delete(oldest);
    }
  };

  return {
    remember: (a) => remember(a.id, a.version, factsOf(a)),
    async sentVersions(a, history) {
      const known = () => seen.get(a.id);
      const needed = history.filter((d) => d.status === 'sent' && d.version < a.version).map((d) => d.version);
      if (needed.some((v) => !known()?.has(v))) {
        for (const stored of await store.anomalyVersions(a.id)) {
          if (!known()?.has(stored.version)) remember(a.id, stored.version, factsOf(stored));
        }
      }
      return (v) => known()?.get(v);
    },
  };
}
