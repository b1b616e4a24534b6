// CLI benchmarks, end to end through the real `vws` binary (a fresh process per run, as a user sees it).
// One JSON line each: median of repeats for vws and for a baseline measured in the same run.
//   exec_true_10k_files: `vws exec -- true` on a vault of 10,000 files (goal < 150 ms), served by the
//     exec daemon as every exec after the first is; beside it, measured in the same run: the first
//     exec (no daemon yet: it starts one), the in-process exec (VWS_DAEMON=0, what every exec cost
//     before the daemon), `sh -c true` spawned the same way, `vws ls /` (the full CLI's start-up and
//     vault load), and the daemon exec from the sources through tsx (VWS_FROM_SOURCE=1). `built`
//     says whether vws ran its build (dist/, made by `pnpm bench` first) or the sources.
//   import_10k_files: `vws import` of a 10,000-file tree vs `cp -r` of it to tmpfs (/dev/shm).
//   exec_true_10k_files_no_fuse: the same exec in a bubblewrap namespace whose /dev has no fuse (a
//     container without --device /dev/fuse): in-process, PtySandbox's sync mode (the vault written
//     into a shadow directory in /dev/shm, the command, its changes read back); baseline: the same
//     in-process exec in a namespace that keeps /dev/fuse, over FUSE.
// Run: pnpm --filter @vws/cli bench
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { bin } from '../test/helpers.js';
import { builtMain } from '../bin/built.js';

const FILES = Number(process.env.VWS_BENCH_FILES ?? 10_000);
const REPS = Number(process.env.VWS_BENCH_REPS ?? 7);
const shm = existsSync('/dev/shm') ? '/dev/shm' : tmpdir();
const home = mkdtempSync(join(tmpdir(), 'vws-bench-home-'));
const work = mkdtempSync(join(shm, 'vws-bench-'));

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const round = (x: number) => Number(x.toFixed(1));

function timed(cmd: string, args: string[], env: Record<string, string> = {}): { ms: number; stdout: string } {
  const t0 = performance.now();
  const r = spawnSync(cmd, args, { cwd: home, env: { ...process.env, VWS_HOME: home, ...env }, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  const ms = performance.now() - t0;
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (${r.status}): ${r.stderr}`);
  return { ms, stdout: r.stdout };
}
const vws = (...args: string[]) => timed(process.execPath, [bin, ...args]);

/** Two warm-up runs (tsx's transform cache, page cache), then REPS timed runs. */
function bench(fn: (i: number) => number): number {
  for (let i = 0; i < 2; i++) fn(-1 - i);
  return median(Array.from({ length: REPS }, (_, i) => fn(i)));
}

try {
  // A 10,000-file tree: 100 directories of 100 small files.
  const tree = join(work, 'tree');
  for (let d = 0; d < FILES / 100; d++) {
    mkdirSync(join(tree, `d${d}`), { recursive: true });
    for (let f = 0; f < 100; f++) writeFileSync(join(tree, `d${d}`, `f${f}.txt`), `file ${d}/${f}\n`.repeat(4));
  }

  const internal: number[] = [];
  const vwsImport = bench((i) => {
    const name = `imp${i < 0 ? `w${-i}` : i}`;
    vws('vault', 'create', name);
    const r = vws('--json', '--vault', name, 'import', tree);
    internal.push(JSON.parse(r.stdout).ms);
    vws('vault', 'delete', name);
    return r.ms;
  });
  const cp = bench((i) => {
    const dest = join(work, `copy${i}`);
    const ms = timed('cp', ['-r', tree, dest]).ms;
    rmSync(dest, { recursive: true, force: true });
    return ms;
  });
  console.log(JSON.stringify({ bench: 'import_10k_files', files: FILES, vws_ms: round(vwsImport), vws_in_process_ms: round(median(internal.slice(2))), cp_r_tmpfs_ms: round(cp), ratio: Number((vwsImport / cp).toFixed(2)), reps: REPS }));

  vws('vault', 'create', 'big');
  vws('--vault', 'big', 'import', tree);
  const exec = bench(() => vws('--vault', 'big', 'exec', '--', 'true').ms);
  const first = bench(() => {
    vws('daemon', 'stop');
    return vws('--vault', 'big', 'exec', '--', 'true').ms;
  });
  const inProcess = bench(() => timed(process.execPath, [bin, '--vault', 'big', 'exec', '--', 'true'], { VWS_DAEMON: '0' }).ms);
  const ls = bench(() => vws('--vault', 'big', 'ls', '/').ms);
  const sh = bench(() => timed('sh', ['-c', 'true']).ms);
  const fromSource = bench(() => timed(process.execPath, [bin, '--vault', 'big', 'exec', '--', 'true'], { VWS_FROM_SOURCE: '1' }).ms);
  const ns = (dev: string[]) => (): number => timed('bwrap', ['--bind', '/', '/', ...dev, '--proc', '/proc', '--', process.execPath, bin, '--vault', 'big', 'exec', '--', 'true'], { VWS_DAEMON: '0' }).ms;
  const noFuse = bench(ns(['--dev', '/dev']));
  const withFuse = bench(ns(['--dev-bind', '/dev', '/dev']));
  console.log(JSON.stringify({ bench: 'exec_true_10k_files_no_fuse', files: FILES, vws_exec_sync_mode_ms: round(noFuse), vws_exec_fuse_in_process_ms: round(withFuse), ratio_vs_fuse: Number((noFuse / withFuse).toFixed(2)), reps: REPS }));
  console.log(JSON.stringify({ bench: 'exec_true_10k_files', files: FILES, built: Boolean(builtMain()), vws_exec_ms: round(exec), vws_exec_first_ms: round(first), vws_exec_in_process_ms: round(inProcess), ratio_to_in_process: Number((exec / inProcess).toFixed(2)), vws_ls_ms: round(ls), sh_true_ms: round(sh), vws_exec_from_source_ms: round(fromSource), goal_ms: 150, met: exec < 150, reps: REPS }));
} finally {
  // The daemons this run started (built and from the sources) end before their home goes.
  spawnSync(process.execPath, [bin, 'daemon', 'stop'], { env: { ...process.env, VWS_HOME: home }, stdio: 'ignore' });
  rmSync(work, { recursive: true, force: true });
  rmSync(home, { recursive: true, force: true });
}
