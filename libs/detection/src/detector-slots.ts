/**
 * An engine's detectors by position (their order in the registry): states and configs as arrays,
 * so a step indexes them instead of looking a kind name up in three objects per detector. Shared
 * by the stage-A and the team engine.
 */
export interface DetectorSlots {
  /** Each detector's current state, by position; the same array for the slots' whole life. */
  readonly states: unknown[];
  /** The configs of the latest resolveConfig() answer by position, rebuilt only when it answers another object. */
  configsNow: () => unknown[];
  /** Records a detector's returned state, in `states` and in the engine's (snapshotted) object by kind. */
  set: (i: number, next: unknown) => void;
  /** Takes another object of states by kind (a restore) as the one written through. */
  adopt: (detectors: Record<string, unknown>) => void;
}

export function createDetectorSlots(
  kinds: readonly string[],
  resolveConfig: () => unknown,
  detectors: Record<string, unknown>,
): DetectorSlots {
  let byKind = detectors;
  const states = kinds.map((k) => byKind[k]);
  let configsOf: unknown = null;
  let configs: unknown[] = [];
  return {
    states,
    configsNow: () => {
      const c = resolveConfig() as Record<string, unknown>;
      if (c !== configsOf) {
        configsOf = c;
        configs = kinds.map((k) => c[k]);
      }
      return configs;
    },
    set: (i, next) => {
      if (next !== states[i]) {
        states[i] = next;
        byKind[kinds[i] as string] = next;
      }
    },
    adopt: (next) => {
      byKind = next;
      for (let i = 0; i < kinds.length; i++) states[i] = next[kinds[i] as string];
    },
  };
}
