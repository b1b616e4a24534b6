// FUSE benchmarks against tmpfs, measured in the same run. Each workload runs as a shell script that
// times itself (so process start-up is not counted), five times; one JSON line each with medians and
// the ratio vws / tmpfs. Each is measured twice for vws: served on the serving thread (the default)
// and inline on this thread (the way before 0.2), interleaved: ratio_thread_vs_inline.
// Run: pnpm --filter @vws/fuse bench

import { mkdtempSync, rmSync } from 'node:fs';
import { InodeFs } from '@vws/inode-fs';
import { mount } from '../src/index.js';
import { sh } from '../test/helpers.js';

const REPS = 5;
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

/** Runs `setup` (untimed, its own script) then `work` (timed inside the script) in $D; returns ms. */
async function timed(dir: string, setup: string, work: string, beforeWork?: () => void): Promise<number> {
  const s = await sh(`cd "$D" && ${setup}`, { D: dir }, 600_000);
  if (s.code !== 0) throw new Error(`benchmark setup failed (${s.code}): ${s.stderr}`);
  beforeWork?.();
  const r = await sh(`cd "$D"\nt0=$(date +%s%N)\n${work}\nt1=$(date +%s%N)\necho "ms=$(( (t1 - t0) / 1000 ))"`, { D: dir }, 600_000);
  const m = /ms=(\d+)/.exec(r.stdout);
  if (r.code !== 0 || !m) throw new Error(`benchmark script failed (${r.code}): ${r.stderr}`);
  return Number(m[1]) / 1000;
}

const SRC = mkdtempSync('/dev/shm/vws-bench-src-');
await sh(`cd "$S" && mkdir -p tree && cd tree && for d in $(seq 1 100); do mkdir d$d; for f in $(seq 1 100); do echo "file $d $f" > d$d/f$f; done; done && cd .. && tar cf tree.tar tree`, { S: SRC }, 600_000);

const GIT = 'git -c user.name=b -c user.email=b@b -c init.defaultBranch=main';
const workloads: Array<{ name: string; setup: string; work: string; goal: number; kind: 'metadata' | 'data' }> = [
  { name: 'create-1000-small-files', setup: 'rm -rf w && mkdir w', work: 'for i in $(seq 1 1000); do echo x > w/f$i; done', goal: 5, kind: 'metadata' },
  { name: 'stat-1000-files', setup: 'rm -rf w && mkdir w && for i in $(seq 1 1000); do echo x > w/f$i; done', work: 'stat -c %s w/* > /dev/null', goal: 5, kind: 'metadata' },
  { name: 'cat-1000-files-one-process', setup: 'rm -rf w && mkdir w && for i in $(seq 1 1000); do echo x > w/f$i; done', work: 'cat w/* > /dev/null', goal: 5, kind: 'metadata' },
  { name: 'rm-1000-files', setup: 'rm -rf w && mkdir w && for i in $(seq 1 1000); do echo x > w/f$i; done', work: 'rm -rf w', goal: 5, kind: 'metadata' },
  { name: 'find-10000-file-tree', setup: 'rm -rf tree && tar xf "$S/tree.tar"', work: 'find tree -type f | wc -l > /dev/null', goal: 5, kind: 'metadata' },
  { name: 'git-add-commit-1000-files', setup: `rm -rf g && mkdir g && cd g && ${GIT} init -q . && for i in $(seq 1 1000); do echo "line $i" > f$i; done`, work: `cd g && ${GIT} add -A && ${GIT} commit -qm bench`, goal: 5, kind: 'metadata' },
  { name: 'tar-x-10000-files', setup: 'rm -rf tree', work: 'tar xf "$S/tree.tar"', goal: 5, kind: 'metadata' },
  // One request per call, nothing cached (xattrs are not): the price of a round trip to the engine.
  { name: 'getxattr-miss-5000-round-trips', setup: 'echo x > rt', work: `python3 -c "
import os
for i in range(5000):
    try: os.getxattr('rt', 'user.none')
    except OSError: pass"`, goal: 5, kind: 'metadata' },
];

async function compare(w: (typeof workloads)[number], env: Record<string, string>): Promise<void> {
  const m = await mount(new InodeFs(), undefined, { countOps: true });
  const old = await mount(new InodeFs(), undefined, { countOps: true, inline: true });
  const tmp = mkdtempSync('/dev/shm/vws-bench-');
  try {
    const vws: number[] = [];
    const inline: number[] = [];
    const base: number[] = [];
    let requests: Record<string, number> = {};
    const setup = w.setup.replaceAll('"$S', `"${env.S}`);
    const work = w.work.replaceAll('"$S', `"${env.S}`);
    for (let i = 0; i < REPS; i++) {
      let before = new Map<string, number>();
      vws.push(await timed(m.path, setup, work, () => (before = new Map(m.ops!))));
      requests = Object.fromEntries([...m.ops!].map(([k, v]) => [k, v - (before.get(k) ?? 0)]).filter(([, v]) => v));
      inline.push(await timed(old.path, setup, work));
      base.push(await timed(tmp, setup, work));
    }
    const ratio = median(vws) / median(base);
    // requests: FUSE requests of the timed part of the last repeat (what the kernel could not cache).
    console.log(JSON.stringify({ bench: w.name, vws_ms: median(vws), inline_ms: median(inline), tmpfs_ms: median(base), ratio_vs_tmpfs: Number(ratio.toFixed(2)), ratio_thread_vs_inline: Number((median(vws) / median(inline)).toFixed(2)), requests, goal: `<= ${w.goal}x tmpfs`, pass: ratio <= w.goal }));
  } finally {
    await m.unmount();
    await old.unmount();
    rmSync(tmp, { recursive: true, force: true });
  }
}

async function sequential(): Promise<void> {
  const fs = new InodeFs();
  const m = await mount(fs);
  const oldFs = new InodeFs();
  const old = await mount(oldFs, undefined, { inline: true });
  const tmp = mkdtempSync('/dev/shm/vws-bench-');
  const big = new Uint8Array(256 * 2 ** 20).fill(7);
  try {
    const res: Record<string, number[]> = {};
    const add = (k: string, v: number) => (res[k] ??= []).push(v);
    for (let i = 0; i < REPS; i++) {
      for (const [label, dir] of [['vws', m.path], ['inline', old.path], ['tmpfs', tmp]] as const) {
        add(`${label}_write`, await timed(dir, 'rm -f big', 'dd if=/dev/zero of=big bs=1M count=256 status=none'));
        add(`${label}_read`, await timed(dir, 'true', 'dd if=big of=/dev/null bs=1M status=none'));
      }
      // Cold: written through the API, so the kernel holds none of it; every byte comes from the engine.
      for (const [label, e, mm] of [['vws', fs, m], ['inline', oldFs, old]] as const) {
        await timed(mm.path, 'rm -f cold', 'true');
        e.writeFile('/cold', big);
        await mm.settle();
        add(`${label}_cold_read`, await timed(mm.path, 'true', 'dd if=cold of=/dev/null bs=1M status=none'));
      }
    }
    const mbps = (k: string) => Math.round((256 * 1.048576) / (median(res[k]) / 1000));
    const [w, r, cold] = [mbps('vws_write'), mbps('vws_read'), mbps('vws_cold_read')];
    // vws_read: a file just written through the mount (the kernel's page cache, as on tmpfs);
    // vws_cold_read: a file the kernel has never seen (FUSE reads of readahead size from the engine).
    console.log(JSON.stringify({ bench: 'sequential-256MiB-dd-bs1M', vws_write_MBps: w, vws_read_MBps: r, vws_cold_read_MBps: cold, inline_write_MBps: mbps('inline_write'), inline_read_MBps: mbps('inline_read'), inline_cold_read_MBps: mbps('inline_cold_read'), tmpfs_write_MBps: mbps('tmpfs_write'), tmpfs_read_MBps: mbps('tmpfs_read'), ratio_cold_read_thread_vs_inline: Number((cold / mbps('inline_cold_read')).toFixed(2)), goal: 'read >= 1000 MB/s (cold too), write >= 300 MB/s', pass: r >= 1000 && cold >= 1000 && w >= 300 }));
  } finally {
    await m.unmount();
    await old.unmount();
    rmSync(tmp, { recursive: true, force: true });
  }
}

// VWS_BENCH_ONLY=name,name runs only those workloads (the sequential one is 'sequential').
const only = process.env.VWS_BENCH_ONLY?.split(',');
try {
  for (const w of workloads) if (!only || only.includes(w.name)) await compare(w, { S: SRC });
  if (!only || only.includes('sequential')) await sequential();
} finally {
  rmSync(SRC, { recursive: true, force: true });
}
