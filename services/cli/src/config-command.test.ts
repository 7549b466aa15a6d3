import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tempDir, type TempDir } from '@burnrate/testing';
import { configCheck } from './config-command.ts';

describe('burnrate config check', () => {
  let dir: TempDir;
  beforeAll(async () => {
    dir = await tempDir();
  });
  afterAll(() => dir.cleanup());

  async function check(yaml: string): Promise<{ code: number; out: string[]; err: string[] }> {
    const path = join(dir.path, `c${Math.random().toString(36).slice(2)}.yaml`);
    await writeFile(path, yaml);
    const out: string[] = [];
    const err: string[] = [];
    const code = await configCheck(path, { out: (l) => out.push(l), err: (l) => err.push(l) });
    return { code, out, err };
  }

  it('exits 0 and summarises a valid file', async () => {
    const r = await check(`org: acme\nteams:\n  - id: payments\n    email: [p@acme.com]\nsources:\n  - { name: laptops, keys: ['${'e'.repeat(64)}'] }\n`);
    expect(r.code).toBe(0);
    expect(r.out.join('\n')).toMatch(/ok \(org acme, 1 team, 0 ownership rules, 1 source\)/);
    expect(r.err).toEqual([]);
  });

  it('exits 1 listing every problem with its path', async () => {
    const r = await check('org: Acme Corp\nteams:\n  - id: payments\n    slack: { channel: payments }\n');
    expect(r.code).toBe(1);
    const text = r.err.join('\n');
    expect(text).toContain('org (line 1): expected a lowercase id');
    expect(text).toContain('teams[0].slack.channel (line 4): expected a channel like #name');
    expect(text).toContain('2 problems found.');
  });

  it('prints warnings for inconsistent thresholds but still exits 0', async () => {
    const r = await check(
      'org: acme\nteams:\n  - id: payments\n    email: [p@acme.com]\ndetectors:\n  session_cost: { warning_usd: 200 }\n',
    );
    expect(r.code).toBe(0);
    expect(r.err.join('\n')).toContain('detectors.session_cost: warning_usd (200) is not below critical_usd (100)');
  });

  it('says when the file is missing', async () => {
    const out: string[] = [];
    const err: string[] = [];
    expect(await configCheck(join(dir.path, 'nope.yaml'), { out: (l) => out.push(l), err: (l) => err.push(l) })).toBe(1);
    expect(err.join('\n')).toMatch(/cannot read config file/);
  });
});
