// Engine benchmarks. Each prints one JSON line: the median of repeated runs for vws and for a baseline
// measured in the same run, their ratio, and the goal. Run: pnpm --filter @vws/inode-fs bench

import { Volume } from 'memfs';
import { InodeFs } from '../src/index.js';

type Vol = InstanceType<typeof Volume>;

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

/** Runs setup (untimed) then fn (timed) `reps` times after two warm-up runs; returns the median ms. */
function time<T>(reps: number, setup: () => T, fn: (state: T) => void): number {
  for (let i = 0; i < 2; i++) fn(setup());
  const out: number[] = [];
  for (let i = 0; i < reps; i++) {
    const state = setup();
    const t0 = performance.now();
    fn(state);
    out.push(performance.now() - t0);
  }
  return median(out);
}

function report(name: string, fields: Record<string, unknown>): void {
  console.log(JSON.stringify({ bench: name, ...fields }));
}

const round = (x: number, d = 3) => Number(x.toFixed(d));
const KB = new Uint8Array(1024).fill(97);

function vsMemfs(name: string, reps: number, engine: (fs: InodeFs) => void, memfs: (vol: Vol) => void, prepE?: (fs: InodeFs) => void, prepM?: (vol: Vol) => void): void {
  const vws = time(reps, () => {
    const fs = new InodeFs();
    prepE?.(fs);
    return fs;
  }, engine);
  const base = time(reps, () => {
    const vol = new Volume();
    prepM?.(vol);
    return vol;
  }, memfs);
  const speedup = base / vws;
  report(name, { vws_ms: round(vws), memfs_ms: round(base), speedup_vs_memfs: round(speedup, 2), goal: '>= 3x faster than memfs', pass: speedup >= 3 });
}

// 1. 1 KiB write + read + stat of 10,000 files.
vsMemfs(
  'small-files-write-read-stat-10k',
  7,
  (fs) => {
    for (let i = 0; i < 10_000; i++) fs.writeFile(`/d/f${i}`, KB);
    for (let i = 0; i < 10_000; i++) fs.readFile(`/d/f${i}`);
    for (let i = 0; i < 10_000; i++) fs.stat(`/d/f${i}`);
  },
  (vol) => {
    for (let i = 0; i < 10_000; i++) vol.writeFileSync(`/d/f${i}`, KB);
    for (let i = 0; i < 10_000; i++) vol.readFileSync(`/d/f${i}`);
    for (let i = 0; i < 10_000; i++) vol.statSync(`/d/f${i}`);
  },
  (fs) => fs.mkdir('/d'),
  (vol) => vol.mkdirSync('/d'),
);

// 2. Deep mkdir -p: 500 distinct paths, 24 levels each, sharing prefixes.
const deep = Array.from({ length: 500 }, (_, i) => '/' + Array.from({ length: 24 }, (_, l) => `lvl${l}_${(i >> Math.min(l, 8)) % 7}`).join('/'));
vsMemfs(
  'deep-mkdir-p',
  7,
  (fs) => {
    for (const p of deep) fs.mkdir(p, { recursive: true });
  },
  (vol) => {
    for (const p of deep) vol.mkdirSync(p, { recursive: true });
  },
);

// 3. readdir of a 10,000-entry directory, 20 times.
vsMemfs(
  'readdir-10k-entries',
  7,
  (fs) => {
    for (let r = 0; r < 20; r++) fs.readdir('/big');
  },
  (vol) => {
    for (let r = 0; r < 20; r++) vol.readdirSync('/big');
  },
  (fs) => {
    fs.mkdir('/big');
    for (let i = 0; i < 10_000; i++) fs.writeFile(`/big/entry-${i}`, '');
  },
  (vol) => {
    vol.mkdirSync('/big');
    for (let i = 0; i < 10_000; i++) vol.writeFileSync(`/big/entry-${i}`, '');
  },
);

// 4. Rename churn: 1,000 files hop through 10 directories in 20 rounds (20,000 renames).
vsMemfs(
  'rename-churn-20k',
  7,
  (fs) => {
    for (let r = 0; r < 20; r++) for (let k = 0; k < 1000; k++) fs.rename(`/r${r % 10}/f${k}`, `/r${(r + 1) % 10}/f${k}`);
  },
  (vol) => {
    for (let r = 0; r < 20; r++) for (let k = 0; k < 1000; k++) vol.renameSync(`/r${r % 10}/f${k}`, `/r${(r + 1) % 10}/f${k}`);
  },
  (fs) => {
    for (let d = 0; d < 10; d++) fs.mkdir(`/r${d}`);
    for (let i = 0; i < 1000; i++) fs.writeFile(`/r0/f${i}`, 'x');
  },
  (vol) => {
    for (let d = 0; d < 10; d++) vol.mkdirSync(`/r${d}`);
    for (let i = 0; i < 1000; i++) vol.writeFileSync(`/r0/f${i}`, 'x');
  },
);

function tree(files: number, bytesEach: number, fs = new InodeFs()): InodeFs {
  const data = new Uint8Array(bytesEach);
  for (let i = 0; i < files; i++) {
    if (i % 100 === 0) fs.mkdir(`/t/d${i / 100}`, { recursive: true });
    data[0] = i & 0xff;
    data[bytesEach - 1] = (i >> 8) & 0xff;
    fs.writeFile(`/t/d${Math.floor(i / 100)}/f${i}`, data);
  }
  return fs;
}

// 5. fork of a 100,000-file tree, against the fork of a 1,000-file tree.
{
  const big = tree(100_000, 16);
  const small = tree(1_000, 16);
  const forkTime = (fs: InodeFs) => {
    const xs: number[] = [];
    for (let i = 0; i < 201; i++) {
      const t0 = performance.now();
      const f = fs.fork();
      xs.push(performance.now() - t0);
      f.writeFile('/t/d0/f0', 'touch'); // a write after the fork copies only its path
    }
    return median(xs);
  };
  const b = forkTime(big);
  const s = forkTime(small);
  report('fork-100k-files', { vws_ms: round(b, 4), fork_1k_files_ms: round(s, 4), ratio_vs_1k: round(b / s, 2), goal: '< 1 ms and <= 2x the 1k-file fork', pass: b < 1 && b / s <= 2 });
}

// 6. Delta snapshot after changing one 1 KiB file in a 100 MiB tree.
{
  const fs = tree(6_400, 16 * 1024); // 100 MiB
  const parent = fs.fork();
  fs.writeFile('/t/d7/f777', KB);
  const sizes: number[] = [];
  const times: number[] = [];
  for (let i = 0; i < 5; i++) {
    const t0 = performance.now();
    sizes.push(fs.snapshot({ since: parent }).length);
    times.push(performance.now() - t0);
  }
  const fullSize = fs.snapshot().length;
  const delta = median(sizes);
  report('delta-snapshot-1k-change-in-100MiB', { delta_bytes: delta, full_bytes: fullSize, ratio_vs_full: round(delta / fullSize, 6), vws_ms: round(median(times)), goal: 'delta < 64 KiB', pass: delta < 64 * 1024 });
}

// 7. Full snapshot and restore of 500 MiB in 10,000 files, against copying the same bytes once.
{
  const fs = tree(10_000, 52_429); // 10,000 x 52,429 bytes = 500 MiB
  const contents = fs.readdir('/t').flatMap((d) => fs.readdir(`/t/${d}`).map((f) => fs.readFile(`/t/${d}/${f}`)));
  let snap: Uint8Array = new Uint8Array(0);
  const snapMs = time(5, () => null, () => {
    snap = fs.snapshot();
  });
  const restoreMs = time(5, () => null, () => {
    InodeFs.restore(snap);
  });
  const copyMs = time(5, () => null, () => {
    Buffer.concat(contents);
  });
  // Fresh 500 MiB buffers cost mostly page faults; glibc can back them with transparent huge pages.
  const thp = (process.env.GLIBC_TUNABLES ?? '').includes('glibc.malloc.hugetlb=1');
  report('full-snapshot-500MiB-10k-files', { thp_malloc: thp, snapshot_ms: round(snapMs), restore_ms: round(restoreMs), baseline_concat_ms: round(copyMs), bytes: snap.length, snapshot_vs_copy: round(snapMs / copyMs, 2), goal: 'snapshot < 1000 ms and restore < 1000 ms', pass: snapMs < 1000 && restoreMs < 1000 });
}

// 8. diff of two forks differing in one file, 100,000-file tree, against a full walk.
{
  const a = tree(100_000, 16);
  const b = a.fork();
  b.writeFile('/t/d500/f50000', 'changed');
  let changes = 0;
  const diffMs = time(21, () => null, () => {
    const d = a.diff(b);
    changes = d.modified.length;
  });
  const walk = (fs: InodeFs) => {
    const stack = ['/'];
    while (stack.length) {
      const dir = stack.pop()!;
      for (const e of fs.readdir(dir, { withFileTypes: true })) {
        const p = dir === '/' ? `/${e.name}` : `${dir}/${e.name}`;
        fs.lstat(p);
        if (e.kind === 'directory') stack.push(p);
      }
    }
  };
  const walkMs = time(5, () => null, () => walk(b));
  report('diff-one-file-in-100k', { vws_ms: round(diffMs, 4), full_walk_ms: round(walkMs), fraction_of_walk: round(diffMs / walkMs, 5), changes, goal: '< 1% of a full walk', pass: diffMs / walkMs < 0.01 && changes === 1 });
}
