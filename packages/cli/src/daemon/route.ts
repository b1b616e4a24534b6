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
  // `exec --help`, `exec --no-daemon` and the like are the CLI's.
  const argv = rest[0] === '--' ? rest.slice(1) : rest[0]?.startsWith('-') ? null : rest;
  if (!argv?.length) return null;
  return { vault: globals.vault || env.VWS_VAULT || undefined, json: Boolean(globals.json), argv };
}
