/**
 * What every command-line script does with its arguments: `--help` (or `-h`) prints
 * the usage on stdout and exits 0; an option or argument the script does not take
 * prints what was wrong and the usage on stderr and exits 2 (node's parseArgs would
 * throw ERR_PARSE_ARGS_* with a stack trace).
 */

/** Exit code of a command line the script does not take. */
export const USAGE_EXIT = 2;

/** The code of an error of node's parseArgs (unknown option, missing value, ...). */
const isParseError = (err: unknown): err is Error => {
  const code = err instanceof Error ? (err as Error & { code?: unknown }).code : undefined;
  return typeof code === 'string' && code.startsWith('ERR_PARSE_ARGS_');
};

/** Exits with `message` and the usage on stderr (exit code 2). */
export function usageError(usage: string, message: string): never {
  process.stderr.write(`${message}\n\n${usage}\n`);
  process.exit(USAGE_EXIT);
}

/**
 * Runs `parse` (a call of node's parseArgs on `args`) after answering `--help`, and
 * turns its errors into a usage error. Arguments after `--` are never options.
 */
export function parseCli<R>(
  usage: string,
  parse: (args: string[]) => R,
  args: string[] = process.argv.slice(2),
): R {
  const end = args.indexOf('--');
  const options = end < 0 ? args : args.slice(0, end);
  if (options.includes('--help') || options.includes('-h')) {
    process.stdout.write(`${usage}\n`);
    process.exit(0);
  }
  try {
    return parse(args);
  } catch (err) {
    if (isParseError(err)) usageError(usage, err.message);
    throw err;
  }
}
