import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));

// The README's Configuration section says how to write the JSON Schema to a file. Run that exact
// line (as a shell would, from the checkout) and parse what it wrote: npm's banner lines on
// stdout once made the file invalid JSON.
describe('the README’s config schema command', () => {
  it('writes a JSON Schema that parses', async () => {
    const readme = await readFile(`${ROOT}README.md`, 'utf8');
    const line = readme.split('\n').find((l) => /burnrate -- config schema > \S+\.json/.test(l));
    expect(line, 'a line in README.md that writes the config schema to a file').toBeDefined();
    const [, command] = /^(.*?config schema) > \S+/.exec(line as string) ?? [];
    expect(command).toBeDefined();
    const { stdout } = await promisify(execFile)('sh', ['-c', command as string], { cwd: ROOT, maxBuffer: 16 * 1024 * 1024 });
    const schema = JSON.parse(stdout) as { title?: string; properties?: Record<string, unknown> };
    expect(schema.title).toBe('burnrate.yaml');
    expect(Object.keys(schema.properties ?? {})).toContain('teams');
  }, 60_000);
});
