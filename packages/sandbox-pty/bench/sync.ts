// Sync mode (no FUSE: a shadow directory) against the FUSE mount, in the same run: one JSON line per
// case with the median of each and their ratio. Trees of small files, 100 per directory.
// Run: pnpm --filter @vws/sandbox-pty bench (after run.ts), or alone:
//   pnpm --filter @vws/sandbox-pty exec tsx --conditions=@vws/source bench/sync.ts [case]

import { InodeFilesystem } from '@vws/filesystem-inode';
import { PtySandbox } from '../src/index.js';

const only = process.argv[2];
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const range = (xs: number[]) => [Number(Math.min(...xs).toFixed(2)), Number(Math.max(...xs).toFixed(2))];

function tree(files: number): InodeFilesystem {
  const fs = new InodeFilesystem();
  const e = fs.engine;
  for (let i = 0; i < files; i++) {
    if (i % 100 === 0) e.mkdir(`/d${i / 100}`);
    e.writeFile(`/d${Math.floor(i / 100)}/f${i}.txt`, `file ${i}\n`.repeat(4));
  }
  return fs;
}

interface Pair {
  sync: PtySandbox;
  fuse: PtySandbox;
  syncFs: InodeFilesystem;
  fuseFs: InodeFilesystem;
  mountMs: number;
}

/** The same tree (two O(1) forks) mounted over FUSE and in sync mode. */
async function pair(fs: InodeFilesystem): Promise<Pair> {
  const sync = new PtySandbox({ syncMode: true });
  const fuse = new PtySandbox();
  const syncFs = fs.fork();
  const fuseFs = fs.fork();
  const t0 = performance.now();
  await sync.mount(syncFs, '/');
  const mountMs = performance.now() - t0;
  await fuse.mount(fuseFs, '/');
  if (sync.mountModes()['/'] !== 'sync' || fuse.mountModes()['/'] !== 'fuse') throw new Error(`unexpected modes ${JSON.stringify([sync.mountModes(), fuse.mountModes()])}`);
  return { sync, fuse, syncFs, fuseFs, mountMs };
}

async function destroy(p: Pair) {
  await p.sync.destroy();
  await p.fuse.destroy();
}

/** Interleaved runs (after warm-up) of the same step on both: [sync times, fuse times]. */
async function measure(p: Pair, step: (sb: PtySandbox, fs: InodeFilesystem, i: number) => Promise<unknown>, n: number, warm = 3): Promise<[number[], number[]]> {
  const s: number[] = [];
  const f: number[] = [];
  for (let i = 0; i < n + warm; i++) {
    for (const [sb, fs, out] of [[p.sync, p.syncFs, s], [p.fuse, p.fuseFs, f]] as const) {
      const t0 = performance.now();
      await step(sb, fs, i);
      if (i >= warm) out.push(performance.now() - t0);
    }
  }
  return [s, f];
}

function report(bench: string, [s, f]: [number[], number[]], extra: Record<string, unknown> = {}) {
  const line = { bench, sync_ms: Number(median(s).toFixed(2)), fuse_ms: Number(median(f).toFixed(2)), ratio_vs_fuse: Number((median(s) / median(f)).toFixed(2)), sync_range_ms: range(s), fuse_range_ms: range(f), runs: s.length, ...extra };
  console.log(JSON.stringify(line));
  return line;
}

const run = (sb: PtySandbox, cmd: string) => async () => {
  const r = await sb.executeCommand(cmd);
  if (r.exitCode !== 0) throw new Error(`${cmd}: ${r.exitCode} ${r.stderr}`);
  return r;
};

const trueMs: Record<number, number> = {};
for (const files of [100, 10_000, 100_000]) {
  if (only && !only.startsWith('true')) break;
  const p = await pair(tree(files));
  try {
    const m = await measure(p, (sb) => run(sb, 'true')(), 30);
    trueMs[files] = median(m[0]);
    const goal = files === 10_000 ? 'within 2x of FUSE and under 50 ms' : files === 100_000 ? 'within 2x of 100 files' : undefined;
    const pass = files === 10_000 ? median(m[0]) <= 2 * median(m[1]) && median(m[0]) < 50 : files === 100_000 ? median(m[0]) <= 2 * trueMs[100]! : undefined;
    report(`sync-true-${files}-files`, m, { files, sync_mount_ms: Math.round(p.mountMs), ...(goal ? { goal, pass } : {}) });
  } finally {
    await destroy(p);
  }
}

if (!only || only === 'one-file') {
  const p = await pair(tree(10_000));
  try {
    const t = await measure(p, (sb) => run(sb, 'true')(), 30);
    const m = await measure(p, (sb, _fs, i) => run(sb, `echo ${i} >> d7/f700.txt`)(), 30);
    report('sync-one-file-change-10000-files', m, { files: 10_000, true_sync_ms: Number(median(t[0]).toFixed(2)), ratio_vs_true: Number((median(m[0]) / median(t[0])).toFixed(2)), goal: 'within 2x of true', pass: median(m[0]) <= 2 * median(t[0]) });
  } finally {
    await destroy(p);
  }
}

if (!only || only === 'git') {
  const GIT = 'git -c user.name=vws -c user.email=vws@example.com -c init.defaultBranch=main';
  const fs = tree(10_000);
  const maker = new PtySandbox({ syncMode: true });
  await maker.mount(fs, '/');
  await run(maker, `${GIT} init -q . && ${GIT} add -A && ${GIT} commit -qm init && ${GIT} status --porcelain | wc -l`)();
  await maker.destroy();
  const p = await pair(fs);
  try {
    const m = await measure(p, (sb) => run(sb, `${GIT} status --porcelain >/dev/null`)(), 10, 2);
    report('sync-git-status-10000-files', m, { files: 10_000 });
  } finally {
    await destroy(p);
  }
}

if (!only || only === 'npm') {
  // A project with a local file: dependency (a package of 20 files): no network.
  const fs = new InodeFilesystem();
  const e = fs.engine;
  e.mkdir('/lib/src', { recursive: true });
  e.writeFile('/lib/package.json', JSON.stringify({ name: 'vws-bench-lib', version: '1.0.0', main: 'src/f0.js' }));
  for (let i = 0; i < 20; i++) e.writeFile(`/lib/src/f${i}.js`, `module.exports = ${i};\n`);
  e.mkdir('/app');
  e.writeFile('/app/package.json', JSON.stringify({ name: 'app', version: '1.0.0', dependencies: { 'vws-bench-lib': 'file:../lib' } }));
  const p = await pair(fs);
  const npm = 'cd app && rm -rf node_modules package-lock.json && npm install --offline --no-audit --no-fund --loglevel=error >/dev/null && node -e "require(\'vws-bench-lib\')"';
  try {
    const m = await measure(p, (sb) => run(sb, npm)(), 5, 1);
    report('sync-npm-install-local-dependency', m, {});
  } finally {
    await destroy(p);
  }
}
