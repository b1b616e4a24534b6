#!/usr/bin/env node
// The vws command. Runs the built CLI when there is one; in a source checkout it runs the
// TypeScript directly (through tsx, resolving the workspace packages to their sources).
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const built = join(here, '../dist/main.js');
if (existsSync(built)) {
  await import(pathToFileURL(built).href);
} else {
  // tsx resolved from here, so vws works from any directory.
  const child = spawn(process.execPath, ['--import', import.meta.resolve('tsx'), '--conditions=@vws/source', join(here, '../src/main.ts'), ...process.argv.slice(2)], { stdio: 'inherit', cwd: process.cwd() });
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) process.on(sig, () => child.kill(sig));
  child.on('exit', (code, signal) => (signal ? process.kill(process.pid, signal) : process.exit(code ?? 1)));
}
