/**
 * Per-key state stored by org, then subject (developer or team): `keys[org][who]`.
 *
 * Nested rather than one map of joined ids on purpose: a detector looks a key up for every event,
 * and looking up a string built per event (`${org}\u001f${who}`) costs ~0.3 µs to flatten, hash and
 * internalise, while the event's own strings cost a few ns. Joined ids (`org \u001f who`) are built
 * only when a key changes status (an active list, an anomaly), not per event. The separator
 * cannot occur in ids and never forms an Object.prototype name.
 */
export type Keyed<K> = Record<string, Record<string, K>>;

export function getKey<K>(keys: Keyed<K>, org: string, who: string): K | undefined {
  return keys[org]?.[who];
}

export function setKey<K>(keys: Keyed<K>, org: string, who: string, k: K): void {
  let byWho = keys[org];
  if (byWho === undefined) {
    byWho = {};
    keys[org] = byWho;
  }
  byWho[who] = k;
}

export const joinKey = (org: string, who: string): string => `${org}\u001f${who}`;

/** `[org, who]` of a joined key. */
export function splitKey(key: string): [org: string, who: string] {
  const at = key.indexOf('\u001f');
  return [key.slice(0, at), key.slice(at + 1)];
}

/** Calls `visit` with every key (a restore's upgrade, a sweep's count): not per event. */
export function forEachKey<K>(keys: Keyed<K>, visit: (k: K) => void): void {
  for (const org in keys) {
    const byWho = keys[org] as Record<string, K>;
    for (const who in byWho) visit(byWho[who] as K);
  }
}

export function countKeys<K>(keys: Keyed<K>): number {
  let n = 0;
  for (const org in keys) n += Object.keys(keys[org] as object).length;
  return n;
}

/**
 * Deletes every key `drop` says to (an eviction sweep, every 15 minutes of event time; not per
 * event). for…in tolerates deleting the key being visited and allocates no key arrays.
 */
export function deleteKeys<K>(keys: Keyed<K>, drop: (k: K) => boolean): void {
  for (const org in keys) {
    const byWho = keys[org] as Record<string, K>;
    let left = 0;
    for (const who in byWho) {
      if (drop(byWho[who] as K)) delete byWho[who];
      else left++;
    }
    if (left === 0) delete keys[org];
  }
}
