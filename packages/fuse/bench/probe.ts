import { InodeFs } from '@vws/inode-fs';
import { mount } from '../src/index.js';
import { runningServingThread } from '../src/serve-thread.js';
const busy = (ms: number) => { const u = performance.now() + ms; while (performance.now() < u); };
const probe = new Float64Array(new SharedArrayBuffer(64));
const fs = new InodeFs(); const m = await mount(fs); const server = runningServingThread()!;
const page = new Uint8Array(4096);
const med = (xs: number[]) => Math.round([...xs].sort((a, b) => a - b)[xs.length >> 1]);
for (const gap of [0.01, 3, 0.01, 3]) for (const near of [true, false]) {
  server.setKeepNear(near);
  const F: number[] = [], G: number[] = [], A: number[] = [], B: number[] = [], C: number[] = [], D: number[] = [], E: number[] = [];
  for (let i = 0; i < 200; i++) {
    busy(gap);
    (globalThis as any).VWS_PROBE = probe;
    const t0 = Number(process.hrtime.bigint()) / 1e6;
    fs.writeFile('/w.txt', page);
    F.push((Number(process.hrtime.bigint()) / 1e6 - t0) * 1000); G.push((probe[0] - t0) * 1000);
    (globalThis as any).VWS_PROBE = undefined;
    A.push((probe[1] - probe[0]) * 1000); B.push((probe[2] - probe[1]) * 1000); C.push((probe[3] - probe[2]) * 1000); D.push((probe[4] - probe[5]) * 1000); E.push((probe[5] - probe[1]) * 1000);
  }
  console.log(`gap ${gap} near ${near}: total ${med(F)} before post ${med(G)} post->worker ${med(A)} µs, handler ${med(B)} µs (to engine ${med(E)}, engine ${med(D)}), handler end->host ${med(C)} µs`);
}
await m.unmount();
