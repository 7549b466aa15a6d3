/** Text helpers for summaries and advice: a manager reads these, so round and shorten. */

// Every dollar amount Burnrate writes for a person (anomaly summaries, Slack, email, the API's
// pages, the CLI's tables) goes through formatUsd, so one figure never reads two ways.

/** U+2212: a minus sign, not a hyphen, so `−$3.50` is not read as a dash before the amount. */
const MINUS = '\u2212';
/** Below this an amount has cents; at or above it whole dollars (cents on $1,250.40 are noise). */
const CENTS_BELOW = 100;
/** From here on, words: a row of ten digits is counted, not read. */
const BILLION = 1e9;
const TRILLION = 1e12;
/** Past a thousand trillion a figure means nothing to a reader; it is only said to be that large. */
const BEYOND_WORDS = 1e15;

/**
 * A dollar amount as a manager reads it:
 *   - under $100, cents when there are any: `$0.07`, `$12.40`, `$25`, `$99.99`;
 *   - from $100 up, whole dollars with thousands separators: `$104`, `$1,250`, `$999,999,999`;
 *   - from a billion up, words: `$1.25 billion`, `$5.6 trillion`; past a thousand trillion (and
 *     Infinity) `over $1,000 trillion`: never an exponent (String(1e21) is `1e+21`);
 *   - more than nothing but less than a cent: `<$0.01`, so a cost is never shown as `$0`
 *     (and not `$0.004`: a third decimal on one figure only would read as precision we lack);
 *   - negative with a true minus sign: `−$3.50`, `−$2 billion`, `−<$0.01`;
 *   - NaN: `an unknown amount`.
 * By hand rather than Intl: detectors build summaries per anomaly, and Intl costs microseconds.
 */
export function formatUsd(value: number): string {
  if (Number.isNaN(value)) return 'an unknown amount';
  const sign = value < 0 ? MINUS : '';
  const abs = Math.abs(value);
  if (abs >= BEYOND_WORDS) return value < 0 ? `${MINUS}$1,000 trillion or less` : 'over $1,000 trillion';
  if (abs >= BILLION || Math.round(abs) >= BILLION) {
    const [size, word] = abs >= TRILLION ? [TRILLION, 'trillion'] : [BILLION, 'billion'];
    // Two decimals at most, trailing zeros dropped: $1.5 billion, $2 billion; 999.999 billion rounds to 1,000 billion, not 1 trillion: still true.
    return `${sign}$${withSeparators(String(Math.round((abs / size) * 100) / 100))} ${word}`;
  }
  if (abs > 0 && abs < 0.005) return `${sign}<$0.01`;
  const cents = Math.round(abs * 100);
  if (cents >= CENTS_BELOW * 100) return `${sign}$${withSeparators(String(Math.round(abs)))}`;
  const whole = Math.floor(cents / 100);
  const rest = cents % 100;
  // -0.001 rounds to no cents at all: `$0`, without a sign on nothing.
  const signed = cents === 0 ? '' : sign;
  return rest === 0 ? `${signed}$${whole}` : `${signed}$${whole}.${String(rest).padStart(2, '0')}`;
}

/** A rate of spend, always per hour and always written the same way: `$12.40/h`, `$1,250/h`. */
export function formatUsdRate(perHour: number): string {
  return `${formatUsd(perHour)}/h`;
}

function withSeparators(digits: string): string {
  const [whole = '', decimals] = digits.split('.');
  const grouped = whole.replace(/\B(?=(\d{3})+(?!\d))/g, ',');
  return decimals === undefined ? grouped : `${grouped}.${decimals}`;
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
