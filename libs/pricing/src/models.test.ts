import { describe, expect, it } from 'vitest';
import { canonicalModel } from './models.ts';

describe('canonicalModel', () => {
  it.each([
    ['claude-sonnet-4-5', 'claude-sonnet-4-5', 'claude-sonnet', 'anthropic', 'standard'],
    ['claude-sonnet-4-5-20250929', 'claude-sonnet-4-5', 'claude-sonnet', 'anthropic', 'standard'],
    ['claude-opus-4-1@20250805', 'claude-opus-4-1', 'claude-opus', 'anthropic', 'premium'],
    ['anthropic/claude-3-5-haiku', 'claude-haiku-3-5', 'claude-haiku', 'anthropic', 'economy'],
    ['claude-3-5-haiku-20241022', 'claude-haiku-3-5', 'claude-haiku', 'anthropic', 'economy'],
    ['us.anthropic.claude-sonnet-4-5-20250929-v1:0', 'claude-sonnet-4-5', 'claude-sonnet', 'anthropic', 'standard'],
    ['claude-opus-4-6[1m]', 'claude-opus-4-6', 'claude-opus', 'anthropic', 'premium'],
    ['claude-4.5-sonnet-thinking', 'claude-sonnet-4-5', 'claude-sonnet', 'anthropic', 'standard'],
    ['Claude-Haiku-4-5', 'claude-haiku-4-5', 'claude-haiku', 'anthropic', 'economy'],
    ['claude-opus-5', 'claude-opus-5', 'claude-opus', 'anthropic', 'premium'],
    ['gpt-5.4-mini-2026-03-01', 'gpt-5.4-mini', 'gpt-5', 'openai', 'economy'],
    ['openai/gpt-4.1', 'gpt-4.1', 'gpt-4.1', 'openai', 'unknown'],
    ['gpt-4.1-2025-04-14', 'gpt-4.1', 'gpt-4.1', 'openai', 'unknown'],
    ['gpt-5.5-pro', 'gpt-5.5-pro', 'gpt-5', 'openai', 'premium'],
    ['gpt-5-high', 'gpt-5', 'gpt-5', 'openai', 'unknown'],
    ['gpt-5.1-codex-max', 'gpt-5.1-codex-max', 'gpt-5', 'openai', 'unknown'],
    ['gpt-4o-mini', 'gpt-4o-mini', 'gpt-4o', 'openai', 'economy'],
    ['o3-2025-04-16', 'o3', 'o3', 'openai', 'unknown'],
    ['o4-mini', 'o4-mini', 'o4', 'openai', 'economy'],
    ['gemini-2.5-pro', 'gemini-2.5-pro', 'gemini-2.5', 'google', 'unknown'],
    ['mistral-large', 'mistral-large', 'mistral-large', 'unknown', 'unknown'],
  ])('%s -> %s (%s, %s, %s)', (raw, key, family, provider, tier) => {
    expect(canonicalModel(raw)).toEqual({ key, family, provider, tier });
  });
});
