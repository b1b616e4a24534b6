// Tool-call round trips per second through a real Agent's workspace tools: vws (InodeFilesystem +
// PtySandbox over FUSE) against the same Agent on Mastra's LocalFilesystem + LocalSandbox (tmpfs),
// measured in the same run, and against the same vws workspace served inline (the engine on this
// thread, the way before 0.2): ratio_thread_vs_inline. One JSON line per tool: medians of REPS runs
// of 40 calls, the three workspaces' runs interleaved; the ratios are medians of each round's own
// ratio (runs next to each other share the machine's noise), with their range.
// Run: pnpm --filter @vws/workspace bench

import { mkdtempSync, rmSync } from 'node:fs';
import { Agent } from '@mastra/core/agent';
import { LocalFilesystem, LocalSandbox, Workspace } from '@mastra/core/workspace';
import { createVwsWorkspace, scriptedModel, type ScriptedStep } from '../src/index.js';

const CALLS = 40;
const REPS = Number(process.env.VWS_BENCH_REPS ?? 9);
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

const TOOLS: Array<{ tool: string; args: (i: number) => Record<string, unknown> }> = [
  { tool: 'mastra_workspace_write_file', args: (i) => ({ path: `bench/f${i % 10}.txt`, content: `line ${i}\n`.repeat(20), overwrite: true }) },
  { tool: 'mastra_workspace_read_file', args: (i) => ({ path: `bench/f${i % 10}.txt` }) },
  { tool: 'mastra_workspace_file_stat', args: (i) => ({ path: `bench/f${i % 10}.txt` }) },
  { tool: 'mastra_workspace_list_files', args: () => ({ path: '.', maxDepth: 3, showHidden: false, dirsOnly: false, respectGitignore: false }) },
  { tool: 'mastra_workspace_grep', args: () => ({ pattern: 'line 1', path: '.', contextLines: 0, caseSensitive: true, includeHidden: false }) },
  { tool: 'mastra_workspace_execute_command', args: () => ({ command: 'true' }) },
];

/** One run of CALLS tool calls through a fresh Agent: calls per second. */
async function runOnce(workspace: Workspace, tool: (typeof TOOLS)[number]): Promise<number> {
  const steps: ScriptedStep[] = Array.from({ length: CALLS }, (_, i) => ({ tool: tool.tool, args: tool.args(i) }));
  const agent = new Agent({ id: 'bench', name: 'bench', instructions: 'bench', model: scriptedModel(steps), workspace });
  const t0 = performance.now();
  await agent.generate('go', { maxSteps: CALLS + 1 });
  return CALLS / ((performance.now() - t0) / 1000);
}

/**
 * Calls per second on each workspace, the runs interleaved (a, b, c, a, b, c, ...): the Agent's own
 * code keeps warming up over the first runs, and in blocks the workspace measured first would pay
 * for it. One warm-up round is dropped.
 */
async function callsPerSecond(workspaces: Workspace[], tool: (typeof TOOLS)[number]): Promise<number[][]> {
  const runs: number[][] = workspaces.map(() => []);
  for (let r = 0; r < REPS + 1; r++) {
    for (let w = 0; w < workspaces.length; w++) {
      const cps = await runOnce(workspaces[w], tool);
      if (r > 0) runs[w].push(cps);
    }
  }
  return runs;
}

/** The median of the rounds' ratios a/b, and their range. */
function pairedRatio(a: number[], b: number[]): { median: number; range: [number, number] } {
  const r = a.map((x, i) => x / b[i]);
  return { median: Number(median(r).toFixed(2)), range: [Number(Math.min(...r).toFixed(2)), Number(Math.max(...r).toFixed(2))] };
}

async function seed(workspace: Workspace): Promise<void> {
  for (let i = 0; i < 10; i++) await workspace.filesystem!.writeFile(`bench/f${i}.txt`, `line ${i}\n`.repeat(20));
}

const vws = await createVwsWorkspace();
process.env.VWS_SERVE_INLINE = '1';
const inline = await createVwsWorkspace();
delete process.env.VWS_SERVE_INLINE;
const dir = mkdtempSync('/dev/shm/vws-bench-ws-');
const local = new Workspace({ filesystem: new LocalFilesystem({ basePath: dir }), sandbox: new LocalSandbox({ workingDirectory: dir }) });
await local.init();
try {
  await seed(vws.workspace);
  await seed(inline.workspace);
  await seed(local);
  // VWS_BENCH_TOOLS=write_file,grep: only those.
  const only = process.env.VWS_BENCH_TOOLS?.split(',');
  for (const tool of TOOLS.filter((t) => !only || only.some((o) => t.tool.endsWith(o)))) {
    const [ra, rb, rc] = await callsPerSecond([vws.workspace, local, inline.workspace], tool);
    const [a, b, c] = [ra, rb, rc].map(median);
    const vsLocal = pairedRatio(ra, rb);
    const vsInline = pairedRatio(ra, rc);
    const isCommand = tool.tool.endsWith('execute_command');
    console.log(JSON.stringify({ bench: `agent-tool-${tool.tool.replace('mastra_workspace_', '')}`, vws_calls_per_s: Math.round(a), local_calls_per_s: Math.round(b), ratio_vs_local: vsLocal.median, ratio_vs_local_range: vsLocal.range, inline_calls_per_s: Math.round(c), ratio_thread_vs_inline: vsInline.median, ratio_thread_vs_inline_range: vsInline.range, goal: isCommand ? 'no slower than Local' : 'faster than Local', pass: isCommand ? vsLocal.median >= 0.95 : vsLocal.median > 1 }));
  }
} finally {
  await vws.destroy();
  await inline.destroy();
  await local.destroy();
  rmSync(dir, { recursive: true, force: true });
}
