// The price of the serving thread for API calls: one synchronous engine call from the host thread,
// against the same call on a local engine, and against the other design measured for it (the engine
// in a serving process, called through a pipe with blocking reads). Medians of 21 batches of 2,000
// calls; one JSON line each. Run: pnpm --filter @vws/fuse bench (after run.ts).

import { spawn } from 'node:child_process';
import { readSync, writeSync } from 'node:fs';
import { InodeFs } from '@vws/inode-fs';
import { mount } from '../src/index.js';
import { runningServingThread } from '../src/serve-thread.js';

const busy = (ms: number) => {
  const until = performance.now() + ms;
  while (performance.now() < until);
};
const idle = (ms: number) => Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const N = 2000;
function perCallUs(fn: () => unknown): number {
  const xs: number[] = [];
  for (let b = 0; b < 21; b++) {
    const t = performance.now();
    for (let i = 0; i < N; i++) fn();
    xs.push(((performance.now() - t) * 1000) / N);
  }
  return median(xs);
}

const local = new InodeFs();
local.writeFile('/a.txt', 'hello');
const remote = new InodeFs();
remote.writeFile('/a.txt', 'hello');
const m = await mount(remote);
const page = new Uint8Array(4096).fill(1);
try {
  // The call an Agent's write_file makes: one, after the host has been busy with other work for a
  // few milliseconds (the serving thread asleep meanwhile), or idle (waiting on something else).
  // With the serving thread kept on the caller's CPU for the call (the default) and without, the
  // two interleaved.
  const server = runningServingThread()!;
  for (const [bench, between] of [['sync-call-write-after-3ms-busy', busy], ['sync-call-write-after-3ms-idle', idle]] as const) {
    const xs: Record<'near' | 'free', number[]> = { near: [], free: [] };
    for (let i = 0; i < 400; i++) {
      const k = i % 2 ? 'near' : 'free';
      server.setKeepNear(k === 'near');
      between(3);
      const t0 = performance.now();
      remote.writeFile('/w.txt', page);
      xs[k].push((performance.now() - t0) * 1000);
    }
    server.setKeepNear(true);
    const [near, free] = [median(xs.near), median(xs.free)];
    console.log(JSON.stringify({ bench, near_us: Number(near.toFixed(1)), free_us: Number(free.toFixed(1)), ratio_near_vs_free: Number((near / free).toFixed(2)) }));
  }
  for (const [bench, f] of [
    ['sync-call-stat', (e: InodeFs) => e.stat('/a.txt')],
    ['sync-call-read-5B', (e: InodeFs) => e.readFile('/a.txt')],
    ['sync-call-write-4KiB', (e: InodeFs) => e.writeFile('/b.bin', page)],
  ] as const) {
    const l = perCallUs(() => f(local));
    const r = perCallUs(() => f(remote));
    console.log(JSON.stringify({ bench, thread_us: Number(r.toFixed(2)), local_us: Number(l.toFixed(2)), overhead_us: Number((r - l).toFixed(2)) }));
  }
} finally {
  await m.unmount();
}

// The alternative: a serving process. Its child echoes each 64-byte request; this thread blocks in
// readSync on the pipe, as a synchronous call to it would have to.
const child = spawn(process.execPath, ['-e', "const fs=require('fs');const b=Buffer.alloc(64);for(;;){let n=0;while(n<64)n+=fs.readSync(0,b,n,64-n);fs.writeSync(1,b)}"], { stdio: ['pipe', 'pipe', 'inherit'] });
const inFd = (child.stdin as unknown as { _handle: { fd: number } })._handle.fd;
const outFd = (child.stdout as unknown as { _handle: { fd: number } })._handle.fd;
const req = Buffer.alloc(64, 1);
const res = Buffer.alloc(64);
const roundTrip = () => {
  writeSync(inFd, req);
  let n = 0;
  while (n < 64) {
    try {
      n += readSync(outFd, res, n, 64 - n, null);
    } catch (e) {
      if ((e as { code?: string }).code !== 'EAGAIN') throw e;
    }
  }
};
const p = perCallUs(roundTrip);
// A call that always crosses (reads may be answered by the host's cache).
const t = perCallUs(() => remote.writeFile('/c.bin', req));
console.log(JSON.stringify({ bench: 'alternative-serving-process-pipe-round-trip', process_pipe_us: Number(p.toFixed(2)), thread_us: Number(t.toFixed(2)), ratio_process_vs_thread: Number((p / t).toFixed(2)) }));
child.kill();
