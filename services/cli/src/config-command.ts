import { checkConfigFile, configJsonSchema, configReport, formatIssues, isBurnrateError } from '@burnrate/core';

export interface CommandIO {
  out: (line: string) => void;
  err: (line: string) => void;
}

/**
 * `burnrate config check <file>`: the check `start` and every reload run, in one pass (the
 * schema, the references between sections, the identities CSV); exit 1 with every problem listed.
 */
export async function configCheck(path: string | undefined, io: CommandIO): Promise<number> {
  if (!path) {
    io.err('usage: burnrate config check <file>');
    return 2;
  }
  try {
    // The channel registry checks every receiver's settings, as `start` does.
    const { receiverSchema } = await import('@burnrate/notify');
    const checked = await checkConfigFile(path, { receiver: receiverSchema });
    const config = checked.config;
    if (config === undefined) {
      io.err(configReport(path, checked.problems));
      return 1;
    }
    const { warnings } = checked;
    if (warnings.length > 0) io.err(`${path}: ${warnings.length} warning${warnings.length === 1 ? '' : 's'}:\n${formatIssues(warnings)}`);
    io.out(
      `${path}: ok (org ${config.org}, ${config.teams.length} team${config.teams.length === 1 ? '' : 's'}, ${config.ownership.length} ownership rule${config.ownership.length === 1 ? '' : 's'}, ${config.sources.length} source${config.sources.length === 1 ? '' : 's'})`,
    );
    return 0;
  } catch (err) {
    if (isBurnrateError(err)) {
      io.err(err.message);
      return 1;
    }
    throw err;
  }
}

export async function configSchema(io: CommandIO): Promise<number> {
  const { receiverSchema } = await import('@burnrate/notify');
  io.out(JSON.stringify(configJsonSchema({ receiver: receiverSchema }), null, 2));
  return 0;
}
