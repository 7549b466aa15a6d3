export interface WaitUntilOptions {
  timeoutMs?: number;
  intervalMs?: number;
  /** Names what was awaited in the timeout error. */
  message?: string;
}

/**
 * Polls `fn` until it returns something other than undefined, null or false, and returns that.
 * Bounded: throws after `timeoutMs` (default 5 s) naming what it waited for. An exception from
 * `fn` ends the wait at once.
 */
export async function waitUntil<T>(
  fn: () => T | undefined | null | false | Promise<T | undefined | null | false>,
  options: WaitUntilOptions = {},
): Promise<T> {
  const timeoutMs = options.timeoutMs ?? 5_000;
  const intervalMs = options.intervalMs ?? 20;
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await fn();
    if (value !== undefined && value !== null && value !== false) return value;
    if (Date.now() >= deadline) throw new Error(`waitUntil timed out after ${timeoutMs} ms: ${options.message ?? 'condition never held'}`);
    await new Promise((r) => setTimeout(r, Math.min(intervalMs, Math.max(1, deadline - Date.now()))));
  }
}

/**
 * Resolves once the in-process work queued so far has run: `turns` passes of the event loop,
 * each draining every promise continuation and `process.nextTick` queued before it. For unit
 * tests whose ports are in-memory twins (no socket, no file), nothing more can then happen
 * without new input, which is when an assertion that something did *not* happen means
 * something. Not for code waiting on I/O or timers: wait for the condition with waitUntil.
 */
export async function settled(turns = 10): Promise<void> {
  for (let i = 0; i < turns; i++) await new Promise<void>((resolve) => setImmediate(resolve));
}
