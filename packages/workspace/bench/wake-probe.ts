// Probe (not committed): writeFile latency after host busy-work, thread vs inline.
import { createVwsWorkspace } from '../src/index.js';
const busy = (ms: number) => { const t = performance.now() + ms; while (performance.now() < t); };
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const vws = await createVwsWorkspace();
process.env.VWS_SERVE_INLINE = '1';
const inline = await createVwsWorkspace();
delete process.env.VWS_SERVE_INLINE;
const GAP = Number(process.env.GAP ?? 3), PRE = Number(process.env.PRE ?? 0.15);
for (const ws of [vws, inline]) await ws.workspace.filesystem!.writeFile('b/f.txt', 'x');
for (let rep = 0; rep < 3; rep++) for (const [name, ws] of [['thread', vws], ['inline', inline]] as const) {
  const fs = ws.workspace.filesystem!;
  const w: number[] = [], s: number[] = [];
  for (let i = 0; i < 200; i++) {
    busy(GAP);
    let t = performance.now();
    await fs.stat('b/f.txt');
    s.push(performance.now() - t);
    busy(PRE);
    t = performance.now();
    await fs.writeFile('b/f.txt', `line ${i}\n`.repeat(20));
    w.push(performance.now() - t);
  }
  console.log(name, 'write µs', Math.round(median(w) * 1000), 'stat µs', Math.round(median(s) * 1000));
}
await vws.destroy(); await inline.destroy();
