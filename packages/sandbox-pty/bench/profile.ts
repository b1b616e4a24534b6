// Where executeCommand('true') spends its time: fork-and-wait baselines (child_process, raw node-pty),
// the launcher in-process, PtySandbox with and without the spawner (tight loops, medians of 100).
// Run: pnpm --filter @vws/sandbox-pty exec tsx --conditions=@vws/source bench/profile.ts
import { createRequire } from 'node:module';
import { spawn } from 'node:child_process';
import { launch } from '../src/launcher.js';
import { PtySandbox } from '../src/index.js';
import { buildEnv } from '../src/env.js';

const require = createRequire(import.meta.url);
const pty = require('node-pty');
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
async function time(name: string, f: () => Promise<unknown>, n = 100) {
  const xs: number[] = [];
  for (let i = 0; i < n + 10; i++) {
    const t0 = performance.now();
    await f();
    if (i >= 10) xs.push(performance.now() - t0);
  }
  console.log(name.padEnd(40), median(xs).toFixed(2), 'ms');
}
const env = buildEnv('/tmp', {});
const only = process.argv[2];
const cases: Record<string, () => Promise<unknown>> = {
  'child_process sh -c true': () => new Promise((r) => spawn('/bin/sh', ['-c', 'true'], { stdio: ['ignore', 'pipe', 'pipe'], env }).on('close', r)),
  'child_process bash -c true': () => new Promise((r) => spawn('/bin/bash', ['-c', 'true'], { stdio: ['ignore', 'pipe', 'pipe'], env }).on('close', r)),
  'node-pty /bin/true': () => new Promise((r) => pty.spawn('/bin/true', [], { cwd: '/tmp', env, encoding: null }).onExit(r)),
  'node-pty bash -c true': () => new Promise((r) => pty.spawn('bash', ['-c', 'true'], { cwd: '/tmp', env, encoding: null }).onExit(r)),
  'launch() in-process, non-interactive': async () => (await launch({ command: 'true', cwd: '/tmp', env, interactive: false }, () => {}, () => {})).done,
};
for (const [k, f] of Object.entries(cases)) if (!only || k.includes(only)) await time(k, f);
if (!only || only === 'sandbox') {
  const inproc = new PtySandbox({ spawner: false });
  const sb = new PtySandbox();
  await time('PtySandbox spawner:false', () => inproc.executeCommand('true'));
  await time('PtySandbox (spawner)', () => sb.executeCommand('true'));
  await inproc.destroy();
  await sb.destroy();
}
