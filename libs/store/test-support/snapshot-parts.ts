/** The snapshot key snapshot-writer.ts saves under. */
export const SNAPSHOT_WRITER_KEY = 'detector:usage.events.v1:0';

/** Save n's parts: a count and content that differ from one save to the next, so a mix of two saves shows. */
export function snapshotParts(n: number): string[] {
  const count = 24 + (n % 5) * 4;
  return Array.from({ length: count }, (_, i) => `["save ${n} part ${i}","${'x'.repeat(64 * 1024)}"]`);
}
