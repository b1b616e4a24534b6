// executeCommand('true') latency: PtySandbox against Mastra's LocalSandbox, same run, medians; and the
// same PtySandbox latency while this process holds a 1 GiB workspace (is spawn cost flat in RSS?).
// Run: pnpm --filter @vws/sandbox-pty bench

import { rmSync } from 'node:fs';
import { LocalSandbox } from '@mastra/core/workspace';
import { InodeFilesystem } from '@vws/filesystem-inode';
import { PtySandbox } from '../src/index.js';

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
async function latency(run: () => Promise<unknown>, n = 60): Promise<number> {
  for (let i = 0; i < 5; i++) await run();
  const xs: number[] = [];
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    await run();
    xs.push(performance.now() - t0);
  }
  return median(xs);
}

const pty = new PtySandbox();
await pty.mount(new InodeFilesystem(), '/');
const local = new LocalSandbox({ workingDirectory: pty.workingDirectory! + '-local' });
await local._start();
const vws = await latency(() => pty.executeCommand('true'));
const base = await latency(() => local.executeCommand!('true'));
console.log(JSON.stringify({ bench: 'execute-true-latency', vws_ms: Number(vws.toFixed(2)), local_sandbox_ms: Number(base.toFixed(2)), ratio_vs_local: Number((vws / base).toFixed(2)), goal: 'no slower than LocalSandbox', pass: vws <= base * 1.05 }));

// Grow this process by ~1 GiB of workspace content, then measure again.
const big = new InodeFilesystem();
const chunk = new Uint8Array(1 << 20).fill(7);
for (let i = 0; i < 1024; i++) big.engine.writeFile(`/blob${i}`, chunk);
const rssGiB = process.memoryUsage().rss / 2 ** 30;
const vwsBig = await latency(() => pty.executeCommand('true'), 30);
console.log(JSON.stringify({ bench: 'execute-true-latency-with-1GiB-workspace', rss_GiB: Number(rssGiB.toFixed(2)), vws_ms: Number(vwsBig.toFixed(2)), small_ms: Number(vws.toFixed(2)), growth: Number((vwsBig / vws).toFixed(2)) }));
await pty.destroy();
await local._destroy();
rmSync(pty.workingDirectory! + '-local', { recursive: true, force: true });
