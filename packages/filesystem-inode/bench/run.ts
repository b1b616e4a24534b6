// InodeFilesystem against Mastra's LocalFilesystem on tmpfs, same operation mix, same run; and an
// InodeFilesystem whose engine is mounted (it then lives on the FUSE serving thread: every engine
// call crosses threads) against one whose engine is local. One JSON line each: medians of 7 runs.
// Run: pnpm --filter @vws/filesystem-inode bench

import { mkdtempSync, rmSync } from 'node:fs';
import { LocalFilesystem, type WorkspaceFilesystem } from '@mastra/core/workspace';
import { mount } from '@vws/fuse';
import { InodeFilesystem } from '../src/index.js';

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

/** 500 files written, read, stat'ed; directories listed; a grep over all of them. */
async function mix(fs: WorkspaceFilesystem): Promise<void> {
  for (let d = 0; d < 10; d++) {
    for (let f = 0; f < 50; f++) await fs.writeFile(`src/d${d}/f${f}.ts`, `export const v${f} = ${f};\n// line two\n`);
  }
  for (let d = 0; d < 10; d++) {
    for (let f = 0; f < 50; f++) {
      await fs.readFile(`src/d${d}/f${f}.ts`, { encoding: 'utf-8' });
      await fs.stat(`src/d${d}/f${f}.ts`);
    }
    await fs.readdir(`src/d${d}`);
  }
  await fs.readdir('src', { recursive: true });
  if (fs.grep) await fs.grep({ pattern: 'v4\\d', path: 'src', caseSensitive: true, includeHidden: false });
  else {
    // LocalFilesystem has no grep fast path: the tool reads every file; do the same.
    for (const e of await fs.readdir('src', { recursive: true })) if (e.type === 'file') /v4\d/.test(String(await fs.readFile(`src/${e.name}`, { encoding: 'utf-8' })));
  }
}

async function time(make: () => Promise<{ fs: WorkspaceFilesystem; done: () => void }>): Promise<number> {
  const xs: number[] = [];
  for (let i = 0; i < 9; i++) {
    const { fs, done } = await make();
    const t0 = performance.now();
    await mix(fs);
    const t = performance.now() - t0;
    done();
    if (i >= 2) xs.push(t); // two warm-up runs
  }
  return median(xs);
}

const vws = await time(async () => {
  const fs = new InodeFilesystem();
  await fs.init();
  return { fs, done: () => {} };
});
const local = await time(async () => {
  const dir = mkdtempSync('/dev/shm/vws-bench-local-');
  const fs = new LocalFilesystem({ basePath: dir });
  await fs.init();
  return { fs, done: () => rmSync(dir, { recursive: true, force: true }) };
});
const speedup = local / vws;
console.log(JSON.stringify({ bench: 'filesystem-mix-500-files', vws_ms: Number(vws.toFixed(2)), local_tmpfs_ms: Number(local.toFixed(2)), speedup_vs_local: Number(speedup.toFixed(2)), goal: '>= 3x faster than LocalFilesystem on tmpfs', pass: speedup >= 3 }));

const onThread = await time(async () => {
  const fs = new InodeFilesystem();
  await fs.init();
  const m = await mount(fs.engine);
  return { fs, done: () => void m.unmount() };
});
console.log(JSON.stringify({ bench: 'filesystem-mix-500-files-engine-on-serving-thread', thread_ms: Number(onThread.toFixed(2)), local_engine_ms: Number(vws.toFixed(2)), local_tmpfs_ms: Number(local.toFixed(2)), ratio_thread_vs_local_engine: Number((onThread / vws).toFixed(2)), speedup_vs_local_fs: Number((local / onThread).toFixed(2)) }));
