import type { Anomaly } from '@burnrate/schemas';
import type { Store } from '@burnrate/store';

const MAX_ANOMALIES = 10_000;

/**
 * The anomaly versions the notifier has read from anomalies.v1, by id: what it sends is read
 * from here, because the store may not have them yet (the sink stores them concurrently). Falls
 * back to the store for anomalies read before a restart. Least recently used forgotten first.
 */
export class AnomalyCache {
  private readonly byId = new Map<string, Map<number, Anomaly>>();
  private readonly store: Pick<Store, 'anomalyVersions'>;

  constructor(store: Pick<Store, 'anomalyVersions'>) {
    this.store = store;
  }

  remember(a: Anomaly): void {
    const versions = this.byId.get(a.id) ?? new Map<number, Anomaly>();
    versions.set(a.version, a);
    this.byId.delete(a.id);
    this.byId.set(a.id, versions);
    if (this.byId.size > MAX_ANOMALIES) {
      const oldest = this.byId.keys().next().value;
      if (oldest !== undefined) this.byId.delete(oldest);
    }
  }

  private async versions(id: string): Promise<Map<number, Anomaly>> {
    const known = this.byId.get(id);
    if (known) return known;
    const stored = await this.store.anomalyVersions(id);
    for (const a of stored) this.remember(a);
    return this.byId.get(id) ?? new Map();
  }

  async version(id: string, version: number): Promise<Anomaly | undefined> {
    const versions = await this.versions(id);
    return versions.get(version) ?? (await this.reread(id)).get(version);
  }

  /** The highest version known. */
  async latest(id: string): Promise<Anomaly | undefined> {
    const versions = await this.versions(id);
    let best: Anomaly | undefined;
    for (const a of versions.values()) if (!best || a.version > best.version) best = a;
    return best;
  }

  /** When version 1 was detected, when it is known. */
  async firstDetectedAt(id: string): Promise<string | undefined> {
    return (await this.versions(id)).get(1)?.detected_at;
  }

  /** Open anomalies of a team among those read recently (the store may lag behind them). */
  openOfTeam(team: string): Anomaly[] {
    const open: Anomaly[] = [];
    for (const versions of this.byId.values()) {
      let latest: Anomaly | undefined;
      for (const a of versions.values()) if (!latest || a.version > latest.version) latest = a;
      if (latest && latest.status === 'open' && latest.subject.team === team) open.push(latest);
    }
    return open;
  }

  private async reread(id: string): Promise<Map<number, Anomaly>> {
    for (const a of await this.store.anomalyVersions(id)) this.remember(a);
    return this.byId.get(id) ?? new Map();
  }
}
