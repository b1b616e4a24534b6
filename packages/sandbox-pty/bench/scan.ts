// How to find what a command changed in a shadow tree without reading every file, measured on 10,000
// and 100,000 small files (100 per directory) in /dev/shm. One JSON line per way and size:
// - walk: readdir + lstat of every entry (what is needed where nothing else is exact);
// - node-recursive-watch: fs.watch(root, { recursive: true }) (Node's own, in JS on Linux; measured
//   last: after set-up on 100,000 files it kept the process busy);
// - dir-watches: one fs.watch per directory on libuv's shared inotify descriptor + a sentinel file
//   to know all events are in (what sync mode uses on Linux).
// For each: set-up time, and the time to learn of one changed file after it is written.
// Run: pnpm --filter @vws/sandbox-pty exec tsx --conditions=@vws/source bench/scan.ts

import { lstatSync, mkdirSync, mkdtempSync, readdirSync, rmSync, watch, writeFileSync, type FSWatcher } from 'node:fs';
import { join } from 'node:path';
import { shadowRoot } from '../src/shadow-dir.js';

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const tick = () => new Promise((r) => setImmediate(r));

function walk(root: string): number {
  let n = 0;
  const go = (dir: string) => {
    for (const name of readdirSync(dir)) {
      const st = lstatSync(join(dir, name), { bigint: true });
      n++;
      if (st.isDirectory()) go(join(dir, name));
    }
  };
  go(root);
  return n;
}

/** Waits for `name` to be reported by `seen`, at most 5 s. */
async function until(seen: Set<string>, name: string): Promise<boolean> {
  const t0 = performance.now();
  while (!seen.has(name)) {
    if (performance.now() - t0 > 5000) return false;
    await tick();
  }
  return true;
}

for (const files of [10_000, 100_000]) {
  const root = mkdtempSync(join(shadowRoot(), `vws-sync-${process.pid}-bench-`));
  try {
    const dirs = files / 100;
    for (let d = 0; d < dirs; d++) {
      mkdirSync(join(root, `d${d}`));
      for (let i = 0; i < 100; i++) writeFileSync(join(root, `d${d}`, `f${i}.txt`), `file ${i}\n`);
    }
    const line = (way: string, setup: number, change: number, extra: Record<string, unknown> = {}) =>
      console.log(JSON.stringify({ bench: `scan-${way}-${files}-files`, setup_ms: Number(setup.toFixed(2)), find_one_change_ms: Number(change.toFixed(2)), files, ...extra }));

    // walk: no set-up; every look costs the whole tree.
    const w: number[] = [];
    for (let i = 0; i < 5; i++) {
      const t0 = performance.now();
      walk(root);
      w.push(performance.now() - t0);
    }
    line('walk', 0, median(w), { exact: true });

    // One watch per directory + a sentinel.
    let t0 = performance.now();
    const dirty = new Set<string>();
    const ws: FSWatcher[] = [watch(root, () => dirty.add(''))];
    for (let d = 0; d < dirs; d++) ws.push(watch(join(root, `d${d}`), () => dirty.add(`d${d}`)));
    const ctl = mkdtempSync(join(shadowRoot(), `vws-sync-${process.pid}-bench-ctl-`));
    const sentinels = new Set<string>();
    ws.push(watch(ctl, (_e, name) => name && sentinels.add(String(name))));
    const setupD = performance.now() - t0;
    const dd: number[] = [];
    let okD = true;
    for (let i = 0; i < 5; i++) {
      t0 = performance.now();
      writeFileSync(join(root, `d${i}`, `f1.txt`), `changed ${i}`);
      writeFileSync(join(ctl, `s${i}`), '');
      await until(sentinels, `s${i}`);
      okD &&= dirty.has(`d${i}`);
      // then only that directory is read
      for (const d of dirty) for (const name of readdirSync(join(root, d))) lstatSync(join(root, d, name), { bigint: true });
      dirty.clear();
      dd.push(performance.now() - t0);
    }
    for (const x of ws) x.close();
    rmSync(ctl, { recursive: true, force: true });
    line('dir-watches', setupD, median(dd), { reported_every_change: okD, exact: true });
    // Node's recursive watcher.
    t0 = performance.now();
    const seenR = new Set<string>();
    const rec = watch(root, { recursive: true }, (_e, name) => name && seenR.add(String(name)));
    const setupR = performance.now() - t0;
    await new Promise((r) => setTimeout(r, 200));
    const r: number[] = [];
    let okR = true;
    for (let i = 0; i < 5; i++) {
      const name = `d${i}/new-${i}.txt`;
      t0 = performance.now();
      writeFileSync(join(root, name), 'x');
      okR &&= await until(seenR, name);
      r.push(performance.now() - t0);
    }
    rec.close();
    line('node-recursive-watch', setupR, median(r), { reported_every_change: okR, exact: false, why: 'no way to know that every event is in, nor that none was dropped' });

  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}
