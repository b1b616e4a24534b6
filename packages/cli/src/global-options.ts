// The global options (--json, --vault NAME) are accepted after the command as well as before it
// (`vws vault list --json`, `vws exec --vault v -- cmd`), as users type them. Commander reads them only
// before the command (positional options, which `exec`'s pass-through needs), so they are moved there
// first. Never touched: anything after `--`, and the command line that `exec` runs (from its first
// operand on).

const FLAGS = new Set(['--json']);
const WITH_VALUE = new Set(['--vault']);
/** exec's own options that take a value (`--cwd DIR`, `--env K=V`). */
const EXEC_WITH_VALUE = new Set(['--cwd', '--env']);

/** args (process.argv without node and the script) with the global options moved to the front. */
export function hoistGlobalOptions(args: string[]): string[] {
  const globals: string[] = [];
  const rest: string[] = [];
  let command: string | undefined;
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    if (a === '--') {
      rest.push(...args.slice(i));
      break;
    }
    const [name] = a.split('=', 1);
    if (FLAGS.has(a)) globals.push(a);
    else if (WITH_VALUE.has(name) && a.includes('=')) globals.push(a);
    else if (WITH_VALUE.has(a) && i + 1 < args.length) globals.push(a, args[++i]);
    else if (command === 'exec' && EXEC_WITH_VALUE.has(a) && i + 1 < args.length) rest.push(a, args[++i]); // its value is no command
    else {
      if (!a.startsWith('-')) {
        if (command === 'exec') {
          // exec's command line starts here: it is the command's, options and all.
          rest.push(...args.slice(i));
          break;
        }
        command ??= a;
      }
      rest.push(a);
    }
  }
  return [...globals, ...rest];
}
