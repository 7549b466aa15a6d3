/** Text helpers for summaries and advice: a manager reads these, so round and shorten. */

/**
 * `$25`, `$104.20`, `$1,250`: cents only when they matter. From a billion up, `$1.25 billion`;
 * past a thousand trillion, `over $1,000 trillion`: never an exponent (String(1e21) is `1e+21`)
 * or a figure of hundreds of digits.
 */
export function formatUsd(value: number): string {
  if (Math.abs(value) >= 1e9 || Number.isNaN(value)) return largeUsd(value);
  // By hand rather than toLocaleString: detectors build summaries often, and Intl costs microseconds.
  const cents = Math.round(value * 100);
  const sign = cents < 0 ? '-' : '';
  const abs = Math.abs(cents);
  const whole = String(Math.floor(abs / 100)).replace(/\B(?=(\d{3})+(?!\d))/g, ',');
  const rest = abs % 100;
  return rest === 0 ? `${sign}$${whole}` : `${sign}$${whole}.${String(rest).padStart(2, '0')}`;
}

function largeUsd(value: number): string {
  if (Number.isNaN(value)) return 'an unknown amount';
  const sign = value < 0 ? '-' : '';
  const abs = Math.abs(value);
  if (abs >= 1e15) return `over ${sign}$1,000 trillion`;
  const [size, word] = abs >= 1e12 ? [1e12, 'trillion'] : [1e9, 'billion'];
  // Two decimals at most, trailing zeros dropped: $1.5 billion, $2 billion.
  return `${sign}$${String(Math.round((abs / size) * 100) / 100)} ${word}`;
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
