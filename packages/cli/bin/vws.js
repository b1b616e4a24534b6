#!/usr/bin/env node
// The vws command. Runs the built CLI (dist/, `pnpm --filter @vws/cli build`, done by scripts/setup.sh)
// while it is up to date with the sources it was built from; otherwise (no build, a source edited since,
// VWS_FROM_SOURCE=1) it runs the TypeScript directly, through tsx, resolving the workspace packages to
// their sources.
import { spawn } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { readFileSync } from 'node:fs';
import { builtMain } from './built.js';

/** The last n arguments of this process, as base64 of their bytes (from /proc/self/cmdline), or ''. */
function rawArgv(n) {
  try {
    const parts = splitNul(readFileSync('/proc/self/cmdline'));
    if (parts.length < n) return '';
    return JSON.stringify(parts.slice(parts.length - n).map((b) => b.toString('base64')));
  } catch {
    return '';
  }
}

function splitNul(buf) {
  const out = [];
  let start = 0;
  for (let i = 0; i < buf.length; i++) if (buf[i] === 0) (out.push(buf.subarray(start, i)), (start = i + 1));
  if (start < buf.length) out.push(buf.subarray(start));
  return out;
}

const here = dirname(fileURLToPath(import.meta.url));
const built = builtMain();
if (built) {
  await import(pathToFileURL(built).href);
} else {
  // tsx resolved from here, so vws works from any directory. Arguments cannot cross spawn() as raw
  // bytes (Node encodes strings as UTF-8), so their exact bytes go along in VWS_RAW_ARGV (src/argv-bytes.ts).
  const args = process.argv.slice(2);
  const env = { ...process.env, VWS_RAW_ARGV: rawArgv(args.length) };
  const child = spawn(process.execPath, ['--import', import.meta.resolve('tsx'), '--conditions=@vws/source', join(here, '../src/main.ts'), ...args], { stdio: 'inherit', cwd: process.cwd(), env });
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) process.on(sig, () => child.kill(sig));
  child.on('exit', (code, signal) => (signal ? process.kill(process.pid, signal) : process.exit(code ?? 1)));
}
