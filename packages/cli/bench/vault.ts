// Vault storage benchmarks: what a small change costs on a big vault, against a small vault in the
// same run. One JSON line each. The big vault is shaped like a project after `npm install`: 20,000
// files, ~250 MB (many small files, a few large ones); the small one has 1,000 files.
//   exec_touch_one_file, checkpoint_save, vault_fork, diff_unchanged: median ms big vs small through
//     the real `vws` binary (exec through the exec daemon, as every exec after the first); goal: ratio <= 2.
//   one_file_change_bytes_written: bytes of files created or changed in $VWS_HOME by `vws write` of one
//     file into the big vault (goal < 1 MiB); baseline: the old layout's whole-snapshot rewrite (state.snap size).
//   mount_read_latency_during_save: a reader process reads a file of a `vws mount`-style FUSE mount of
//     the big vault in a loop while the mount's periodic save (Vault#save) runs after each change;
//     max and p99.9 read latency (goal max < 50 ms), baselines: the same reader with nothing running,
//     and with the same changes made through the API but not saved;
//     engine_hold_ms_max: the longest a save held the serving thread (export + fork). On a shared
//     2-core machine the max of either run is mostly scheduling noise: compare it with the baseline.
// Run: pnpm --filter @vws/cli bench:vault   (VWS_BENCH_BIG_FILES, VWS_BENCH_REPS to scale)
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createHash } from 'node:crypto';
import { InodeFs } from '@vws/inode-fs';
import { bin, stopDaemons } from '../test/helpers.js';

const BIG = Number(process.env.VWS_BENCH_BIG_FILES ?? 20_000);
const SMALL = 1_000;
const REPS = Number(process.env.VWS_BENCH_REPS ?? 5);
const home = mkdtempSync(join(tmpdir(), 'vws-bench-vault-'));
process.env.VWS_HOME = home;
const { Vault } = await import('../src/vault-store.js');

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const round = (x: number) => Number(x.toFixed(1));

function vws(...args: string[]): number {
  const t0 = performance.now();
  const r = spawnSync(process.execPath, [bin, ...args], { cwd: home, env: { ...process.env, VWS_HOME: home }, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  const ms = performance.now() - t0;
  if (r.status !== 0) throw new Error(`vws ${args.join(' ')} failed (${r.status}): ${r.stderr}`);
  return ms;
}

/** A tree like node_modules: n files, 1% of them large (600 KB), the rest 1-12 KB (20,000 files: ~250 MB). */
function projectTree(n: number): InodeFs {
  const fs = new InodeFs({ quota: { bytes: 4 * 1024 ** 3, inodes: 1_000_000 } });
  let seed = 1;
  const rand = () => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff);
  for (let i = 0; i < n; i++) {
    const dir = `/node_modules/pkg${i % 400}/lib${i % 5}`;
    if (i < 2000) fs.mkdir(dir, { recursive: true });
    const size = i % 100 === 0 ? 600_000 : 1_000 + Math.floor(rand() * 11_000);
    const bytes = new Uint8Array(size);
    for (let k = 0; k < size; k += 4096) bytes[k] = (i * 31 + k) & 0xff;
    bytes[size - 1] = i & 0xff;
    fs.writeFile(`${dir}/f${i}.js`, bytes);
  }
  return fs;
}

function storeFiles(dir: string, out = new Map<string, string>()): Map<string, string> {
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) storeFiles(p, out);
    else if (e.isFile() && !e.name.endsWith('.lock')) out.set(p, `${statSync(p).size}:${createHash('sha1').update(readFileSync(p)).digest('hex')}`);
  }
  return out;
}

function ratioLine(bench: string, big: number, small: number, extra: Record<string, unknown> = {}): void {
  console.log(JSON.stringify({ bench, big_files: BIG, small_files: SMALL, big_ms: round(big), small_ms: round(small), ratio: Number((big / small).toFixed(2)), goal: '<= 2', reps: REPS, ...extra }));
}

try {
  const t0 = performance.now();
  const bigTree = projectTree(BIG);
  Vault.create('big', bigTree);
  Vault.create('small', projectTree(SMALL));
  const bigBytes = bigTree.usage().bytes;
  const snapBytes = bigTree.snapshot().length;
  const setupMs = performance.now() - t0;

  const both = (fn: (vault: string, i: number) => number): [number, number] => {
    const out: number[] = [];
    for (const v of ['big', 'small']) {
      fn(v, -1);
      out.push(median(Array.from({ length: REPS }, (_, i) => fn(v, i))));
    }
    return [out[0]!, out[1]!];
  };

  const [execBig, execSmall] = both((v, i) => vws('--vault', v, 'exec', '--', 'sh', '-c', `echo ${i} >> node_modules/pkg1/lib1/f1.js`));
  ratioLine('exec_touch_one_file', execBig, execSmall, { via: 'exec daemon (warm)' });
  const [cpBig, cpSmall] = both((v, i) => vws('--vault', v, 'checkpoint', 'save', `c${i + 1}`));
  ratioLine('checkpoint_save', cpBig, cpSmall);
  const [forkBig, forkSmall] = both((v, i) => vws('vault', 'fork', v, `${v}-fork${i + 1}`));
  ratioLine('vault_fork', forkBig, forkSmall);
  for (const v of ['big', 'small']) vws('--vault', v, 'checkpoint', 'save', 'same');
  const [diffBig, diffSmall] = both((v) => vws('--vault', v, 'diff', 'same'));
  ratioLine('diff_unchanged', diffBig, diffSmall);

  const before = storeFiles(home);
  vws('--vault', 'big', 'write', '/node_modules/pkg7/lib2/f7.js', 'changed');
  let written = 0;
  for (const [p, sig] of storeFiles(home)) if (before.get(p) !== sig) written += Number(sig.split(':')[0]);
  console.log(JSON.stringify({ bench: 'one_file_change_bytes_written', big_files: BIG, vault_bytes: bigBytes, bytes_written: written, baseline_whole_snapshot_bytes: snapBytes, ratio: Number((written / snapBytes).toFixed(5)), goal: '< 1048576' }));

  await mountLatency();
  console.log(JSON.stringify({ bench: 'vault_bench_setup', setup_ms: round(setupMs), total_ms: round(performance.now() - t0) }));
} finally {
  await stopDaemons(home).catch(() => {});
  rmSync(home, { recursive: true, force: true });
}

/** Read latency in a mount of the big vault while its periodic save runs, vs without saves. */
async function mountLatency(): Promise<void> {
  const { mount } = await import('@vws/fuse');
  const v = Vault.open('big');
  const fs = v.load();
  const dir = mkdtempSync(join(tmpdir(), 'vws-bench-mnt-'));
  const m = await mount(fs, dir);
  v.adopted(fs);
  try {
    const read = (ms: number): Promise<{ max: number; p999: number; n: number }> =>
      new Promise((resolve, reject) => {
        // Another process reads: this one serves the mount (on its serving thread).
        const code = `const fs=require('fs');const t=[];const end=Date.now()+${ms};while(Date.now()<end){const a=performance.now();fs.readFileSync(process.argv[1]);fs.statSync(process.argv[2]);t.push(performance.now()-a)}t.sort((a,b)=>a-b);console.log(JSON.stringify({max:t.at(-1),p999:t[Math.floor(t.length*0.999)],n:t.length}))`;
        const child = spawn(process.execPath, ['-e', code, join(dir, 'node_modules/pkg3/lib3/f3.js'), join(dir, 'node_modules/pkg4/lib4')], { cwd: '/', stdio: ['ignore', 'pipe', 'inherit'] });
        let out = '';
        child.stdout!.on('data', (d) => (out += d));
        child.on('exit', (c) => (c === 0 ? resolve(JSON.parse(out)) : reject(new Error(`reader exited ${c}`))));
      });
    const idle = await read(1500);
    // The same changes through the API with no save, then with the mount's save after each one.
    const changes = async (save: boolean, ms: number): Promise<{ saves: number[]; holds: number[] }> => {
      const saves: number[] = [];
      const holds: number[] = [];
      const end = Date.now() + ms;
      for (let i = 0; Date.now() < end; i++) {
        fs.writeFile('/node_modules/pkg9/lib4/f9.js', `changed ${i}`);
        if (save) {
          const a = performance.now();
          holds.push(v.save(fs).engineMs);
          saves.push(performance.now() - a);
        }
        await new Promise((r) => setTimeout(r, 50));
      }
      return { saves, holds };
    };
    const writing = read(3000);
    await changes(false, 2800);
    const writesOnly = await writing;
    const during = read(3000);
    const { saves, holds } = await changes(true, 2800);
    const busy = await during;
    console.log(JSON.stringify({ bench: 'mount_read_latency_during_save', big_files: BIG, saves: saves.length, save_ms_median: round(median(saves)), engine_hold_ms_max: round(Math.max(...holds)), engine_hold_ms_median: round(median(holds)), ...(process.env.VWS_BENCH_HOLDS ? { holds: holds.map(round) } : {}), read_max_ms: round(busy.max), read_p999_ms: round(busy.p999), reads: busy.n, baseline_read_max_ms: round(idle.max), baseline_read_p999_ms: round(idle.p999), writes_no_save_read_max_ms: round(writesOnly.max), writes_no_save_read_p999_ms: round(writesOnly.p999), ratio: Number((busy.max / Math.max(idle.max, 0.001)).toFixed(2)), goal: 'read_max_ms < 50' }));
  } finally {
    await m.unmount();
    rmSync(dir, { recursive: true, force: true });
  }
}
