// Which command lines the exec daemon serves: `vws [--json] [--vault NAME] exec [--json] [--vault NAME] [--] CMD ARGS...`,
// nothing else (every other form, help and errors included, goes to the full CLI in this process).
// Decided before the CLI loads, with Node's own option parser: start-up is most of a short exec's time.

import { existsSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { hoistGlobalOptions } from '../global-options.js';

export interface ExecRoute {
  vault?: string;
  json: boolean;
  argv: string[];
  /** exec's own options (before the command): --cwd, --env K=V (repeatable), --keep-caches, --verbose. */
  cwd?: string;
  env: string[];
  keepCaches: boolean;
  verbose: boolean;
}

/** The exec to hand to the daemon, or null (the daemon is off, FUSE is missing, or another command). */
export function execRoute(args: string[], env: NodeJS.ProcessEnv = process.env): ExecRoute | null {
  if (env.VWS_DAEMON === '0' || process.platform !== 'linux' || !existsSync('/dev/fuse')) return null;
  args = hoistGlobalOptions(args);
  const at = args.indexOf('exec');
  if (at < 0) return null;
  let globals;
  try {
    globals = parseArgs({ args: args.slice(0, at), options: { json: { type: 'boolean' }, vault: { type: 'string' } }, strict: true, allowPositionals: false }).values;
  } catch {
    return null; // not only global options before `exec`: the CLI says what is wrong
  }
  const rest = args.slice(at + 1);
  const o: Pick<ExecRoute, 'cwd' | 'env' | 'keepCaches' | 'verbose'> = { env: [], keepCaches: false, verbose: false };
  let i = 0;
  for (; i < rest.length; i++) {
    const a = rest[i]!;
    if (a === '--') {
      i++;
      break;
    }
    if (!a.startsWith('-')) break; // the command
    const [name, inline] = a.includes('=') ? [a.slice(0, a.indexOf('=')), a.slice(a.indexOf('=') + 1)] : [a, undefined];
    if (name === '--cwd' || name === '--env') {
      const value = inline ?? rest[++i];
      if (value === undefined) return null; // the CLI says what is missing
      if (name === '--cwd') o.cwd = value;
      else if (/^[A-Za-z_][A-Za-z0-9_]*=/.test(value)) o.env.push(value);
      else return null; // malformed: the CLI says so
    } else if (a === '--keep-caches') o.keepCaches = true;
    else if (a === '--verbose' || a === '-v') o.verbose = true;
    else return null; // `exec --help`, `exec --no-daemon` and the like are the CLI's
  }
  const argv = rest.slice(i);
  if (!argv.length) return null;
  return { vault: globals.vault || env.VWS_VAULT || undefined, json: Boolean(globals.json), argv, ...o };
}
