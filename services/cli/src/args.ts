/** Splits argv into positionals and `--flag value` / `--flag=value` / `--switch` options. */
export function parseArgs(argv: readonly string[]): { positionals: string[]; flags: Map<string, string | true> } {
  const positionals: string[] = [];
  const flags = new Map<string, string | true>();
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string;
    if (!arg.startsWith('--')) {
      positionals.push(arg);
      continue;
    }
    const eq = arg.indexOf('=');
    if (eq > 0) flags.set(arg.slice(2, eq), arg.slice(eq + 1));
    else if (argv[i + 1] !== undefined && !(argv[i + 1] as string).startsWith('--')) flags.set(arg.slice(2), argv[++i] as string);
    else flags.set(arg.slice(2), true);
  }
  return { positionals, flags };
}
