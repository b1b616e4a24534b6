// executeCommand('true') latency against Mastra's LocalSandbox, interleaved in the same run (medians
// of 100 pairs after 10 warm-up pairs): a bare PtySandbox, one whose cwd is a FUSE-mounted
// InodeFilesystem, and the mounted one while this process holds a 1 GiB workspace (spawn cost flat in
// size?); also `ls` (an external program) and back-to-back calls. One JSON line each.
// Run: pnpm --filter @vws/sandbox-pty bench

import { mkdtempSync, rmSync } from 'node:fs';
import { LocalSandbox } from '@mastra/core/workspace';
import { InodeFilesystem } from '@vws/filesystem-inode';
import { PtySandbox } from '../src/index.js';

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

async function pairs(a: () => Promise<unknown>, b: () => Promise<unknown>, n = 100): Promise<[number, number]> {
  const xs: number[] = [];
  const ys: number[] = [];
  for (let i = 0; i < n + 10; i++) {
    let t0 = performance.now();
    await a();
    const x = performance.now() - t0;
    t0 = performance.now();
    await b();
    const y = performance.now() - t0;
    if (i >= 10) {
      xs.push(x);
      ys.push(y);
    }
  }
  return [median(xs), median(ys)];
}

/** Back to back: blocks of 10 calls of a, then 10 of b, per-call medians (nothing idle in between). */
async function blocks(a: () => Promise<unknown>, b: () => Promise<unknown>, rounds = 10): Promise<[number, number]> {
  const xs: number[] = [];
  const ys: number[] = [];
  for (let r = 0; r < rounds + 1; r++) {
    for (const [f, out] of [[a, xs], [b, ys]] as const) {
      for (let i = 0; i < 10; i++) {
        const t0 = performance.now();
        await f();
        if (r > 0) out.push(performance.now() - t0);
      }
    }
  }
  return [median(xs), median(ys)];
}

const localDir = mkdtempSync('/dev/shm/vws-bench-local-');
const local = new LocalSandbox({ workingDirectory: localDir });
await local._start();
const bare = new PtySandbox();
const mounted = new PtySandbox();
await mounted.mount(new InodeFilesystem(), '/');
// The same, served inline on this thread (the way before 0.2), for the before/after line.
process.env.VWS_SERVE_INLINE = '1';
const inline = new PtySandbox();
await inline.mount(new InodeFilesystem(), '/');
delete process.env.VWS_SERVE_INLINE;
// Runs reaped by their process group only (no cgroup per run), for the cost of exact reaping.
process.env.VWS_REAP = 'group';
const groupOnly = new PtySandbox();
await groupOnly.start();
delete process.env.VWS_REAP;
try {
  const report = (bench: string, [v, l]: [number, number], extra: Record<string, unknown> = {}) =>
    console.log(JSON.stringify({ bench, vws_ms: Number(v.toFixed(2)), local_sandbox_ms: Number(l.toFixed(2)), ratio_vs_local: Number((v / l).toFixed(2)), goal: 'no slower than LocalSandbox', pass: v <= l * 1.05, ...extra }));
  report('execute-true-latency', await pairs(() => bare.executeCommand('true'), () => local.executeCommand!('true')));
  // An external program (bash forks for it on a warm shell; a cold one, and sh, exec it).
  report('execute-ls-latency', await pairs(() => bare.executeCommand('ls'), () => local.executeCommand!('ls')));
  // Calls with nothing in between: the shell started ahead may not be ready yet.
  report('execute-true-back-to-back', await blocks(() => bare.executeCommand('true'), () => local.executeCommand!('true')));
  // Exact reaping (a cgroup per run, killed when it ends) against the process group alone.
  const [cg, pg] = await pairs(() => bare.executeCommand('true'), () => groupOnly.executeCommand('true'));
  console.log(JSON.stringify({ bench: 'execute-true-cgroup-reaping-vs-process-group', cgroup_ms: Number(cg.toFixed(2)), group_only_ms: Number(pg.toFixed(2)), ratio_cgroup_vs_group: Number((cg / pg).toFixed(2)), goal: 'within 0.5 ms of the process group alone', pass: cg - pg <= 0.5 }));
  const [thread, old] = await pairs(() => mounted.executeCommand('true'), () => inline.executeCommand('true'));
  console.log(JSON.stringify({ bench: 'execute-true-fuse-cwd-serving-thread-vs-inline', thread_ms: Number(thread.toFixed(2)), inline_ms: Number(old.toFixed(2)), ratio_thread_vs_inline: Number((thread / old).toFixed(2)), goal: 'within 10% of inline', pass: thread <= old * 1.1 }));
  const small = await pairs(() => mounted.executeCommand('true'), () => local.executeCommand!('true'));
  report('execute-true-latency-fuse-cwd', small);
  // Grow this process by ~1 GiB of workspace content, then measure again.
  const big = new InodeFilesystem();
  const chunk = new Uint8Array(1 << 20).fill(7);
  for (let i = 0; i < 1024; i++) big.engine.writeFile(`/blob${i}`, chunk);
  const rssGiB = process.memoryUsage().rss / 2 ** 30;
  const large = await pairs(() => mounted.executeCommand('true'), () => local.executeCommand!('true'), 40);
  report('execute-true-latency-fuse-cwd-1GiB-resident', large, { rss_GiB: Number(rssGiB.toFixed(2)), growth_vs_small: Number((large[0] / small[0]).toFixed(2)) });
} finally {
  await bare.destroy();
  await groupOnly.destroy();
  await mounted.destroy();
  await inline.destroy();
  await local._destroy();
  rmSync(localDir, { recursive: true, force: true });
}
