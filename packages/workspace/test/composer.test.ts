// The composer passes Mastra's Workspace options through, applies timeoutMs to execute_command, and
// our vws_* tools obey toolsConfig as Mastra's own tools do; outputs are bounded like execute_command's.

import { Agent } from '@mastra/core/agent';
import { createWorkspaceTools } from '@mastra/core/workspace';
import { afterEach, describe, expect, it } from 'vitest';
import { createVwsWorkspace, scriptedModel, type ScriptedStep, type VwsWorkspace } from '../src/index.js';

const open: VwsWorkspace[] = [];
afterEach(async () => {
  for (const v of open.splice(0)) await v.destroy();
});
async function make(options: Parameters<typeof createVwsWorkspace>[0] = {}) {
  const v = await createVwsWorkspace(options);
  open.push(v);
  return v;
}
async function play(vws: VwsWorkspace, steps: ScriptedStep[]) {
  const agent = new Agent({ id: 't', name: 't', instructions: 'test', model: scriptedModel(steps), workspace: vws.workspace, tools: vws.tools });
  const res = await agent.generate('go', { maxSteps: steps.length + 2 });
  return res.steps.flatMap((s) => s.toolResults ?? []).map((r: any) => ({ name: r.payload?.toolName ?? r.toolName, result: r.payload?.result ?? r.result }));
}

describe('createVwsWorkspace options', () => {
  it('timeoutMs applies to execute_command', async () => {
    const vws = await make({ timeoutMs: 1000 });
    const t0 = Date.now();
    const [r] = await play(vws, [{ tool: 'mastra_workspace_execute_command', args: { command: 'sleep 5; echo finished' } }]);
    expect(Date.now() - t0).toBeLessThan(4000);
    expect(String(r!.result)).not.toContain('finished');
    expect(String(r!.result)).toMatch(/timed out|Exit code: 124/);
  });

  it('readOnly: no write tools, and commands cannot write (EROFS)', async () => {
    const vws = await make({ readOnly: true, files: { '/a.txt': 'A' } });
    const tools = await createWorkspaceTools(vws.workspace);
    expect(Object.keys(tools)).toContain('mastra_workspace_read_file');
    expect(Object.keys(tools)).not.toContain('mastra_workspace_write_file');
    const r = await vws.sandbox.executeCommand('cat a.txt; touch b.txt');
    expect(r.stdout).toBe('A');
    expect(r.stderr).toMatch(/Read-only file system/);
  });

  it('passes skills, bm25 and autoIndexPaths through to Mastra', async () => {
    const vws = await make({
      files: { '/skills/greet/SKILL.md': '---\nname: greet\ndescription: Greets people politely\n---\nSay hello.\n', '/docs/guide.md': 'The frobnicator rotates the widget.\n' },
      skills: ['/skills'],
      bm25: true,
      autoIndexPaths: ['/docs'],
    });
    const results = await play(vws, [{ tool: 'mastra_workspace_search', args: { query: 'frobnicator', topK: 3 } }]);
    expect(String(results[0]!.result)).toContain('guide.md');
    expect((await vws.workspace.skills?.list())?.map((s: { name: string }) => s.name)).toEqual(['greet']);
  });

  it('unknown options are still refused; mounts is refused with the reason and what to do instead', async () => {
    await expect(createVwsWorkspace({ bogus: 1 } as never)).rejects.toThrow(/invalid options/);
    await expect(createVwsWorkspace({ mounts: { '/data': {} } })).rejects.toThrow(/mounts: not supported by the composer.*new Workspace\(\{ mounts/);
  });
});

describe('vws_* tools and toolsConfig', () => {
  it('enabled, name and requireApproval apply as to Mastra tools; hooks run around the call', async () => {
    const seen: string[] = [];
    const vws = await make({
      toolsConfig: {
        vws_install_package: { enabled: false },
        vws_diff: { name: 'changes' },
        vws_checkpoint_restore: { requireApproval: true },
        hooks: { beforeToolCall: ({ toolName }: { toolName: string }) => void seen.push(`before ${toolName}`), afterToolCall: ({ toolName }: { toolName: string }) => void seen.push(`after ${toolName}`) },
      },
    });
    const tools = vws.tools as Record<string, any>;
    expect(Object.keys(tools)).not.toContain('vws_install_package');
    expect(Object.keys(tools)).toContain('changes');
    expect(tools.changes.id).toBe('changes');
    expect(tools.vws_checkpoint_restore.requireApproval).toBe(true);
    expect(tools.vws_checkpoint_save.requireApproval).toBe(false);
    await play(vws, [{ tool: 'vws_checkpoint_save', args: { name: 'a' } }]);
    expect(seen).toEqual(['before vws_checkpoint_save', 'after vws_checkpoint_save']);
  });

  it('every parameter is described; saving over a name says so; fork says what it did', async () => {
    const vws = await make();
    for (const [name, tool] of Object.entries(vws.tools as Record<string, any>)) {
      const shape = tool.inputSchema.shape as Record<string, { description?: string }>;
      for (const [param, schema] of Object.entries(shape)) expect(schema.description, `${name}.${param}`).toBeTruthy();
    }
    const r = await play(vws, [
      { tool: 'vws_checkpoint_save', args: { name: 'x' } },
      { tool: 'vws_checkpoint_save', args: { name: 'x' } },
      { tool: 'vws_fork', args: { keepAs: 'x' } },
    ]);
    expect(r.map((x) => x.result.replaced)).toEqual([false, true, true]);
    expect(r[2]!.result).toMatchObject({ keptAs: 'x', restoreWith: 'vws_checkpoint_restore' });
  });

  it('vws_execute_code output is bounded like execute_command (last 200 lines), timeout in seconds', async () => {
    const vws = await make();
    const [r] = await play(vws, [{ tool: 'vws_execute_code', args: { code: 'for i in range(100000): print(i)', runtime: 'python' } }]);
    expect(r!.result.stdout.startsWith('[showing last 200 of 100000 lines]\n99800\n')).toBe(true);
    expect(r!.result.stdout.length).toBeLessThan(2000);
    const [t] = await play(vws, [{ tool: 'vws_execute_code', args: { code: 'sleep 5', runtime: 'bash', timeout: 1 } }]);
    expect(t!.result.timedOut).toBe(true);
  });
});
