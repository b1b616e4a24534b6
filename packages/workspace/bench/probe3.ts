import { Agent } from '@mastra/core/agent';
import { createVwsWorkspace, scriptedModel } from '../src/index.js';
const vws = await createVwsWorkspace();
const fs = vws.workspace.filesystem! as any;
for (let i = 0; i < 10; i++) await fs.writeFile(`bench/f${i}.txt`, 'x');
const eng = fs.engine;
const server = (eng as any)[Object.getOwnPropertySymbols(eng).find((s: symbol) => s.description === 'vws.remote')!]?.server;
const events: Record<string, number> = {};
if (server) {
  const orig = server.onMessage.bind(server);
  server.onMessage = (m: any) => { const k = 'event' in m ? m.event : 'reply'; events[k] = (events[k] ?? 0) + 1; return orig(m); };
}
const tool = process.env.TOOL ?? 'mastra_workspace_write_file';
const run = async () => {
  const steps = Array.from({ length: 40 }, (_, i) => ({ tool, args: tool.endsWith('write_file') ? { path: `bench/f${i % 10}.txt`, content: `line ${i}\n`.repeat(20), overwrite: true } : { path: `bench/f${i % 10}.txt` } }));
  const agent = new Agent({ id: 'b', name: 'b', instructions: 'b', model: scriptedModel(steps), workspace: vws.workspace });
  const t0 = performance.now();
  await agent.generate('go', { maxSteps: 41 });
  return performance.now() - t0;
};
for (let i = 0; i < 5; i++) await run();
for (const k in events) delete events[k];
const ms = [] as number[];
for (let i = 0; i < 5; i++) ms.push(await run());
console.log(process.env.VWS_SERVE_INLINE ? 'inline' : 'thread', 'per tool call ms', ms.map((m) => (m / 40).toFixed(2)).join(' '), 'host events over 200 calls', JSON.stringify(events));
await vws.destroy();
