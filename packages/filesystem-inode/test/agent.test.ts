// A real Mastra Agent, driven offline by a scripted mock model, works on an InodeFilesystem through
// the auto-injected mastra_workspace_* tools; every effect is checked in the engine.

import { Agent } from '@mastra/core/agent';
import { Workspace } from '@mastra/core/workspace';
import { MockLanguageModelV2 } from 'ai/test';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { InodeFilesystem } from '../src/index.js';

type Step = { tool: string; args: Record<string, unknown> };

/** A model that plays a fixed list of tool calls, one per model turn, then says "done". */
function scripted(steps: Step[]) {
  let turn = 0;
  const usage = { inputTokens: 1, outputTokens: 1, totalTokens: 2 };
  return new MockLanguageModelV2({
    doGenerate: async () => {
      const step = steps[turn++];
      if (!step) return { content: [{ type: 'text', text: 'done' }], finishReason: 'stop', usage, warnings: [] };
      return { content: [{ type: 'tool-call', toolCallId: `call-${turn}`, toolName: step.tool, input: JSON.stringify(step.args) }], finishReason: 'tool-calls', usage, warnings: [] };
    },
  });
}

let fs: InodeFilesystem;
let workspace: Workspace;
beforeAll(async () => {
  fs = new InodeFilesystem({ files: { '/README.md': '# demo\n' } });
  workspace = new Workspace({ filesystem: fs });
  await workspace.init();
});
afterAll(async () => {
  await workspace.destroy();
});

it('an Agent writes, reads, edits, lists, greps, stats, makes dirs and deletes through the tools', async () => {
  const steps: Step[] = [
    { tool: 'mastra_workspace_mkdir', args: { path: 'src', recursive: true } },
    { tool: 'mastra_workspace_write_file', args: { path: 'src/math.js', content: 'export const add = (a, b) => a - b;\n', overwrite: true } },
    { tool: 'mastra_workspace_read_file', args: { path: 'src/math.js' } },
    { tool: 'mastra_workspace_edit_file', args: { path: 'src/math.js', old_string: 'a - b', new_string: 'a + b', replace_all: false } },
    { tool: 'mastra_workspace_write_file', args: { path: 'tmp.txt', content: 'scratch', overwrite: true } },
    { tool: 'mastra_workspace_list_files', args: { path: '.', maxDepth: 3, showHidden: false, dirsOnly: false, respectGitignore: false } },
    { tool: 'mastra_workspace_grep', args: { pattern: 'a \\+ b', path: '.', contextLines: 0, caseSensitive: true, includeHidden: false } },
    { tool: 'mastra_workspace_file_stat', args: { path: 'src/math.js' } },
    { tool: 'mastra_workspace_delete', args: { path: 'tmp.txt', recursive: false } },
  ];
  const agent = new Agent({ id: 'coder', name: 'coder', instructions: 'You write code.', model: scripted(steps), workspace });
  const res = await agent.generate('Fix the add function.', { maxSteps: steps.length + 2 });
  expect(res.text).toBe('done');
  const results = res.steps.flatMap((s) => s.toolResults ?? []).map((r: any) => ({ name: r.payload?.toolName ?? r.toolName, result: r.payload?.result ?? r.result }));
  expect(results.map((r) => r.name)).toEqual(steps.map((s) => s.tool));
  // Effects, checked in the engine itself.
  expect(fs.engine.readFile('/src/math.js', 'utf8')).toBe('export const add = (a, b) => a + b;\n');
  expect(fs.engine.exists('/tmp.txt')).toBe(false);
  expect(JSON.stringify(results[5].result)).toContain('math.js');
  expect(JSON.stringify(results[6].result)).toContain('src/math.js');
  expect(JSON.stringify(results[7].result)).toMatch(/file/);
});
