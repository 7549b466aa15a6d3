/** Text helpers for summaries and advice: a manager reads these, so round and shorten. */

/** `$25`, `$104.20`, `$1,250`: cents only when they matter. */
export function formatUsd(value: number): string {
  // By hand rather than toLocaleString: detectors build summaries often, and Intl costs microseconds.
  const cents = Math.round(value * 100);
  const sign = cents < 0 ? '-' : '';
  const abs = Math.abs(cents);
  const whole = String(Math.floor(abs / 100)).replace(/\B(?=(\d{3})+(?!\d))/g, ',');
  const rest = abs % 100;
  return rest === 0 ? `${sign}$${whole}` : `${sign}$${whole}.${String(rest).padStart(2, '0')}`;
}

/** `45m`, `3h 12m`, `2d 5h`. */
export function formatDuration(ms: number): string {
  const minutes = Math.max(0, Math.floor(ms / 60_000));
  if (minutes < 60) return `${minutes}m`;
  const hours = Math.floor(minutes / 60);
  if (hours < 48) return `${hours}h ${minutes % 60}m`;
  return `${Math.floor(hours / 24)}d ${hours % 24}h`;
}

/** Session ids are long UUIDs; the first characters are enough to find one in a tool. */
export function shortId(id: string, length = 8): string {
  return id.length <= length ? id : `${id.slice(0, length)}…`;
}

/** Money and rates in anomalies are rounded to micro-dollars, so float noise never shows. */
export function roundMoney(value: number): number {
  return Math.round(value * 1e6) / 1e6;
}
