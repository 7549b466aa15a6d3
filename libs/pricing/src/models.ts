/** Price tier used by model-mix monitoring; `unknown` when neither the name nor a price row says. */
export type Tier = 'premium' | 'standard' | 'economy' | 'unknown';

export interface CanonicalModel {
  /** The key prices are stored under: `claude-sonnet-4-5`, `claude-haiku-3-5`, `gpt-5.4-mini`, `o3`. */
  key: string;
  /** `claude-opus`, `claude-sonnet`, `claude-haiku`, `gpt-5`, `gpt-4.1`, `o3`, … or the key itself. */
  family: string;
  /** The model vendor: `anthropic`, `openai`, `google`, or `unknown`. */
  provider: string;
  /** What the name alone says about the tier; a price row refines it. */
  tier: Tier;
}

const CLAUDE_FAMILIES = ['opus', 'sonnet', 'haiku', 'fable', 'mythos'] as const;
const CLAUDE_FAMILY_TIER: Record<(typeof CLAUDE_FAMILIES)[number], Tier> = {
  opus: 'premium',
  sonnet: 'standard',
  haiku: 'economy',
  fable: 'premium',
  mythos: 'premium',
};

// Cloud and gateway spellings wrap the vendor's id: `anthropic/…` (LiteLLM, OpenRouter),
// `us.anthropic.claude-…-v1:0` (Bedrock), `claude-…@20250805` (Vertex), `…[1m]` (Claude Code).
function stripWrappers(raw: string): string {
  let s = raw.trim().toLowerCase();
  const slash = s.lastIndexOf('/');
  if (slash >= 0) s = s.slice(slash + 1);
  s = s.replace(/\[[^\]]*\]$/, '');
  const at = s.indexOf('@');
  if (at > 0) s = s.slice(0, at);
  s = s.replace(/^(?:(?:us|eu|apac|global|jp|au)\.)?anthropic\./, '');
  s = s.replace(/-v\d+(?::\d+)?$/, '');
  s = s.replace(/:\d+$/, '');
  return s;
}

// Suffixes that do not change the price row: snapshot dates, `-latest`, reasoning effort and
// `-thinking` (thinking tokens are billed as output tokens of the same model).
const DATE_SUFFIX = /-(?:\d{4}-\d{2}-\d{2}|\d{8})$/;
// `-max` is not here: `gpt-5.1-codex-max` is a model of its own.
const NON_PRICE_SUFFIX = /-(?:latest|thinking|minimal|low|medium|high|xhigh)$/;

function stripSuffixes(s: string): string {
  let prev: string;
  do {
    prev = s;
    s = s.replace(DATE_SUFFIX, '').replace(NON_PRICE_SUFFIX, '');
  } while (s !== prev);
  return s;
}

function canonicalClaude(s: string): CanonicalModel | undefined {
  if (!s.startsWith('claude')) return undefined;
  const tokens = s.split('-');
  const family = CLAUDE_FAMILIES.find((f) => tokens.includes(f));
  if (!family) return undefined;
  // Versions are 1–2 digit parts in either naming (`claude-3-5-haiku`, `claude-sonnet-4-5`,
  // Cursor's `claude-4.5-sonnet`); 8-digit snapshot dates were stripped already.
  const version = tokens
    .filter((t) => /^\d{1,2}(?:\.\d{1,2})?$/.test(t))
    .flatMap((t) => t.split('.'))
    .join('-');
  const key = version ? `claude-${family}-${version}` : `claude-${family}`;
  return { key, family: `claude-${family}`, provider: 'anthropic', tier: CLAUDE_FAMILY_TIER[family] };
}

function openAiTier(key: string): Tier {
  if (/-pro$/.test(key)) return 'premium';
  if (/-(?:mini|nano)$/.test(key)) return 'economy';
  return 'unknown';
}

function canonicalOpenAi(s: string): CanonicalModel | undefined {
  const gpt = /^gpt-(\d+)(\.\d+|o)?(?:-|$)/.exec(s);
  if (gpt) {
    const major = Number(gpt[1]);
    // gpt-5.x releases are one line priced per release; gpt-4.1 and gpt-4o are distinct lines.
    const family = major >= 5 ? `gpt-${major}` : `gpt-${gpt[1]}${gpt[2] ?? ''}`;
    return { key: s, family, provider: 'openai', tier: openAiTier(s) };
  }
  const o = /^o(\d+)(?:-|$)/.exec(s);
  if (o) return { key: s, family: `o${o[1]}`, provider: 'openai', tier: openAiTier(s) };
  if (/^(?:codex|chatgpt|davinci|babbage|text-embedding|computer-use)/.test(s)) {
    return { key: s, family: s.split('-')[0] ?? s, provider: 'openai', tier: 'unknown' };
  }
  return undefined;
}

/**
 * Maps a raw model name from any source onto the key prices are stored under, its family and
 * vendor. Never throws: an unrecognised name keeps its (lower-cased, unwrapped) self as the key,
 * with provider and tier `unknown`, so events still flow and the catalog reports the missing price.
 */
export function canonicalModel(raw: string): CanonicalModel {
  // Every event names its model, and a fleet uses a handful: the regexes run once per name.
  const known = canonicalByRaw.get(raw);
  if (known !== undefined) return known;
  if (canonicalByRaw.size >= CANONICAL_MEMO_SIZE) canonicalByRaw.clear();
  const canonical = Object.freeze(canonicalOf(raw));
  canonicalByRaw.set(raw, canonical);
  return canonical;
}

/** Names remembered; a sender inventing names past it only costs the regexes again. */
const CANONICAL_MEMO_SIZE = 4096;
const canonicalByRaw = new Map<string, CanonicalModel>();

function canonicalOf(raw: string): CanonicalModel {
  const s = stripSuffixes(stripWrappers(raw));
  const known = canonicalClaude(s) ?? canonicalOpenAi(s);
  if (known) return known;
  if (s.startsWith('gemini')) {
    const m = /^gemini-(\d+(?:\.\d+)?)/.exec(s);
    return { key: s, family: m ? `gemini-${m[1]}` : 'gemini', provider: 'google', tier: 'unknown' };
  }
  return { key: s || raw, family: s || raw, provider: 'unknown', tier: 'unknown' };
}
