#!/usr/bin/env node
// The vws command. Runs the built CLI (dist/, `pnpm --filter @vws/cli build`, done by scripts/setup.sh)
// while it is up to date with the sources it was built from; otherwise (no build, a source edited since,
// VWS_FROM_SOURCE=1) it runs the TypeScript directly, through tsx, resolving the workspace packages to
// their sources.
import { spawn } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { builtMain } from './built.js';

const here = dirname(fileURLToPath(import.meta.url));
const built = builtMain();
if (built) {
  await import(pathToFileURL(built).href);
} else {
  // tsx resolved from here, so vws works from any directory.
  const child = spawn(process.execPath, ['--import', import.meta.resolve('tsx'), '--conditions=@vws/source', join(here, '../src/main.ts'), ...process.argv.slice(2)], { stdio: 'inherit', cwd: process.cwd() });
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) process.on(sig, () => child.kill(sig));
  child.on('exit', (code, signal) => (signal ? process.kill(process.pid, signal) : process.exit(code ?? 1)));
}
