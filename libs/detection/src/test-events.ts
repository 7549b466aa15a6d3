/** `base` plus `minutes`, as ISO text: the event times of this package's tests. Only tests import this file. */
export function at(base: string, minutes: number): string {
  return new Date(Date.parse(base) + minutes * 60_000).toISOString();
}
