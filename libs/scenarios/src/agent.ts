import type { Rng } from './rng.ts';

/**
 * One coding-agent session as the API sees it: each human prompt starts a turn; the agent then
 * makes several calls, each sending the whole conversation so far (system prompt and tools, every
 * earlier message and tool result) plus what is new. With prompt caching the unchanged prefix is a
 * cache read when the previous call was less than five minutes ago and is written again when it
 * was not (a long pause costs a full rewrite). When the conversation passes `compactAt`, the agent
 * summarises it and starts over from the system prompt and the summary.
 */
export interface AgentCall {
  at: number;
  model: string;
  /** Uncached input (a few tokens with caching on; the whole prompt with caching off). */
  input: number;
  output: number;
  cacheRead: number;
  cacheWrite: number;
  promptId: string;
  /** A new human prompt (the first call of a turn). */
  human: boolean;
  role: 'main' | 'background' | 'compact';
}

export interface AgentPlan {
  rng: Rng;
  start: number;
  model: string;
  /** Claude Code's own small model calls per prompt (title, quota, topic); none when undefined. */
  backgroundModel?: string;
  systemPrompt: number;
  compactAt: number;
  caching: boolean;
  /** Human prompts in the session. */
  turns: number;
  callsPerTurn(): number;
  /** Agent-side pause between two calls of a turn (tool execution, test runs). */
  callGapMs(): number;
  /** Human pause before the next prompt (reading, thinking, coffee). */
  humanGapMs(): number;
  /** Tokens a tool result adds to the conversation. */
  growth(): number;
  output(): number;
  userTokens(): number;
  /** After the last human prompt the agent keeps going, with no human turn, until this instant. */
  loopUntil?: number;
  /** Stop early once a call sends more than this many tokens. */
  stopAtContext?: number;
}

export interface AgentRun {
  calls: AgentCall[];
  end: number;
  lastHumanTurn: number;
}

const CACHE_TTL_MS = 5 * 60_000;
// Claude Code truncates a tool result (a file read, a command's output) to about this many tokens.
const MAX_TOOL_RESULT = 25_000;
const SUMMARY_TOKENS = { median: 3_500, sigma: 0.3 };

export function runAgent(plan: AgentPlan): AgentRun {
  const { rng } = plan;
  const calls: AgentCall[] = [];
  let at = plan.start;
  let context = plan.systemPrompt;
  let cached = 0;
  let lastCall = -Infinity;
  let lastHumanTurn = plan.start;

  const call = (promptId: string, human: boolean, added: number, output: number, role: AgentCall['role']): number => {
    const prompt = context + added;
    const warm = plan.caching && at - lastCall < CACHE_TTL_MS;
    const read = warm ? Math.min(cached, prompt) : 0;
    const uncached = plan.caching ? Math.min(prompt - read, rng.int(3, 40)) : prompt;
    const write = plan.caching ? prompt - read - uncached : 0;
    calls.push({ at, model: plan.model, input: uncached, output, cacheRead: read, cacheWrite: write, promptId, human, role });
    lastCall = at;
    cached = plan.caching ? prompt : 0;
    context = prompt + output;
    return prompt;
  };

  // Claude Code compacts before a request that would pass its threshold, so no call sends more.
  const compactIfNeeded = (promptId: string, upcoming: number): void => {
    if (context + upcoming <= plan.compactAt) return;
    at += Math.round(rng.between(2_000, 6_000));
    const summary = Math.round(clamp(rng.logNormal(SUMMARY_TOKENS.median, SUMMARY_TOKENS.sigma), 1_500, 8_000));
    call(promptId, false, 200, summary, 'compact');
    context = plan.systemPrompt + summary;
    // The compacted conversation is a new prefix: only the system prompt is still in the cache.
    cached = plan.caching ? plan.systemPrompt : 0;
  };

  const agentStep = (promptId: string, human: boolean, added: number): boolean => {
    compactIfNeeded(promptId, added);
    const prompt = call(promptId, human, added, Math.round(clamp(plan.output(), 20, 12_000)), 'main');
    return plan.stopAtContext === undefined || prompt <= plan.stopAtContext;
  };

  outer: for (let turn = 0; turn < plan.turns; turn++) {
    if (turn > 0) at += Math.round(plan.humanGapMs());
    const promptId = rng.uuid();
    lastHumanTurn = at;
    if (plan.backgroundModel !== undefined) {
      calls.push({
        at,
        model: plan.backgroundModel,
        input: rng.int(250, 900),
        output: rng.int(8, 60),
        cacheRead: 0,
        cacheWrite: 0,
        promptId,
        human: true,
        role: 'background',
      });
      at += rng.int(300, 1_500);
    }
    const last = turn === plan.turns - 1;
    if (!agentStep(promptId, plan.backgroundModel === undefined, Math.round(plan.userTokens()))) break;
    if (last && plan.loopUntil !== undefined) {
      while (at < plan.loopUntil) {
        at += Math.round(plan.callGapMs());
        if (!agentStep(promptId, false, Math.round(clamp(plan.growth(), 50, MAX_TOOL_RESULT)))) break outer;
      }
      break;
    }
    const n = plan.callsPerTurn();
    for (let i = 1; i < n; i++) {
      at += Math.round(plan.callGapMs());
      if (!agentStep(promptId, false, Math.round(clamp(plan.growth(), 50, MAX_TOOL_RESULT)))) break outer;
    }
  }
  return { calls, end: at, lastHumanTurn };
}

export function clamp(x: number, min: number, max: number): number {
  return x < min ? min : x > max ? max : x;
}
