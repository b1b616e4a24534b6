// Parity with Mastra's own providers: the same scripted Agent sessions (a real Agent, Mastra's mock
// model through scriptedModel) run against LocalFilesystem + LocalSandbox and against ours, both as
// providers (InodeFilesystem + PtySandbox in a Workspace) and through createVwsWorkspace(). What the
// model receives (each tool result) must be equal, normalised only for the workspace path, times and
// process ids. The differences that are ours on purpose are listed in packages/sandbox-pty/README.md.

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Agent } from '@mastra/core/agent';
import { createWorkspaceTools, LocalFilesystem, LocalSandbox, Workspace, type WorkspaceFilesystem } from '@mastra/core/workspace';
import { InodeFilesystem } from '@vws/filesystem-inode';
import { PtySandbox } from '@vws/sandbox-pty';
import { createVwsWorkspace, scriptedModel, type ScriptedStep } from '@vws/workspace';
import { afterEach, describe, expect, it } from 'vitest';

type Side = { name: string; workspace: Workspace; dir: string; close(): Promise<void> };
type SideOptions = { env?: Record<string, string>; files?: Record<string, string | Uint8Array>; workspace?: Record<string, unknown> };

const closers: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const c of closers.splice(0).reverse()) await c();
});

async function seed(fs: WorkspaceFilesystem, files: Record<string, string | Uint8Array> = {}) {
  for (const [p, c] of Object.entries(files)) await fs.writeFile(p, typeof c === 'string' ? c : Buffer.from(c));
}

async function local(o: SideOptions): Promise<Side> {
  const dir = mkdtempSync(join(tmpdir(), 'vws-parity-local-'));
  const filesystem = new LocalFilesystem({ basePath: dir });
  const sandbox = new LocalSandbox({ workingDirectory: dir, env: { PATH: process.env.PATH!, ...o.env } });
  // Files first: init indexes autoIndexPaths.
  await seed(filesystem, o.files);
  const workspace = new Workspace({ filesystem, sandbox, ...o.workspace } as never);
  await workspace.init();
  const side = { name: 'local', workspace, dir, close: async () => (await workspace.destroy(), rmSync(dir, { recursive: true, force: true })) };
  closers.push(side.close);
  return side;
}

async function providers(o: SideOptions): Promise<Side> {
  const filesystem = new InodeFilesystem();
  const sandbox = new PtySandbox({ env: o.env });
  await seed(filesystem, o.files);
  const workspace = new Workspace({ filesystem, sandbox, ...o.workspace } as never);
  await workspace.init();
  const m = await sandbox.mount(filesystem, '/');
  if (!m.success) throw new Error(m.error);
  const side = { name: 'providers', workspace, dir: sandbox.workingDirectory!, close: () => workspace.destroy() };
  closers.push(side.close);
  return side;
}

async function composer(o: SideOptions): Promise<Side> {
  const vws = await createVwsWorkspace({ env: o.env, files: o.files as Record<string, string | Uint8Array<ArrayBuffer>>, ...(o.workspace as object) });
  const side = { name: 'composer', workspace: vws.workspace, dir: vws.path, close: () => vws.destroy() };
  closers.push(side.close);
  return side;
}

/** What the model receives, with only the workspace path, times and pids made neutral. */
function normalise(value: unknown, dir: string): unknown {
  const s = JSON.stringify(value ?? null)
    .replaceAll(dir, '<ws>')
    .replace(/\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z/g, '<time>')
    .replace(/PID: \d+/g, 'PID: <pid>')
    .replace(/(process|Process) \d+/g, '$1 <pid>')
    .replace(/"executionTimeMs":\d+/g, '"executionTimeMs":0')
    .replace(/in \d+(\.\d+)?m?s\b/g, 'in <t>');
  return JSON.parse(s);
}

async function play(side: Side, steps: ScriptedStep[]): Promise<Array<{ tool: string; result: any; raw: string }>> {
  const agent = new Agent({ id: 'parity', name: 'parity', instructions: 'test', model: scriptedModel(steps), workspace: side.workspace });
  const res = await agent.generate('go', { maxSteps: steps.length + 2 });
  // Results and errors alike, in call order: both are what the model reads next.
  return res.steps
    .flatMap((s: any) => (s.content ?? []).filter((c: any) => c.type === 'tool-result' || c.type === 'tool-error'))
    .map((r: any) => {
      const value = r.type === 'tool-error' ? { error: String(r.error?.message ?? r.error) } : (r.output ?? r.result ?? r.payload?.result);
      return { tool: r.toolName ?? r.payload?.toolName, result: normalise(value, side.dir), raw: JSON.stringify(value) };
    });
}

async function compare(steps: ScriptedStep[], o: SideOptions = {}, makers: Array<(o: SideOptions) => Promise<Side>> = [providers, composer]) {
  const want = await play(await local(o), steps);
  if (process.env.VWS_PARITY_PRINT) console.log(JSON.stringify(want, null, 1));
  expect(want.map((w) => w.tool)).toEqual(steps.map((s) => s.tool));
  for (const make of makers) {
    const side = await make(o);
    const got = await play(side, steps);
    for (let i = 0; i < steps.length; i++) expect({ tool: got[i]?.tool, result: got[i]?.result }, `${side.name}: step ${i} ${JSON.stringify(steps[i])}`).toEqual({ tool: want[i]!.tool, result: want[i]!.result });
  }
  return want;
}

const PNG = new Uint8Array([137, 80, 78, 71, 13, 10, 26, 10, 0, 0, 0, 13, 73, 72, 68, 82, 0, 0, 0, 1, 0, 0, 0, 1, 8, 6, 0, 0, 0, 31, 21, 196, 137]);
const ZIP = new Uint8Array([80, 75, 3, 4, 20, 0, 0, 0, 0, 0, 0, 0, 33, 0, 255, 0, 1, 2]);
const FILES = {
  'src/a.ts': 'const x = 1;\nexport function hello() {\n  return "hello";\n}\n',
  'src/sub/b.ts': 'import { hello } from "../a";\nconsole.log(hello());\n',
  'README.md': '# project\nSay hello.\n',
  'img.png': PNG,
  'data.zip': ZIP,
};

describe('the same Agent session gives the model the same results as LocalFilesystem + LocalSandbox', () => {
  it('file tools: read_file (text, offsets, image, binary, base64), grep (context, globs, subdirectories), list, edit, stat, mkdir, delete', async () => {
    await compare(
      [
        { tool: 'mastra_workspace_read_file', args: { path: 'src/a.ts' } },
        { tool: 'mastra_workspace_read_file', args: { path: 'src/a.ts', offset: 2, limit: 2 } },
        { tool: 'mastra_workspace_read_file', args: { path: 'img.png' } },
        { tool: 'mastra_workspace_read_file', args: { path: 'data.zip' } },
        { tool: 'mastra_workspace_read_file', args: { path: 'data.zip', encoding: 'base64' } },
        { tool: 'mastra_workspace_grep', args: { pattern: 'hello', path: '.', contextLines: 1 } },
        { tool: 'mastra_workspace_grep', args: { pattern: 'hello', path: 'src/**/*.ts' } },
        { tool: 'mastra_workspace_grep', args: { pattern: 'hello', path: 'src/sub' } },
        { tool: 'mastra_workspace_grep', args: { pattern: 'HELLO', path: 'src', caseSensitive: false, maxCount: 1 } },
        { tool: 'mastra_workspace_read_file', args: { path: 'src/sub/b.ts' } },
        { tool: 'mastra_workspace_list_files', args: { path: '.' } },
        { tool: 'mastra_workspace_list_files', args: { path: 'src', maxDepth: 1 } },
        { tool: 'mastra_workspace_edit_file', args: { path: 'src/a.ts', old_string: 'const x = 1;', new_string: 'const x = 2;' } },
        { tool: 'mastra_workspace_read_file', args: { path: 'src/a.ts', offset: 1, limit: 1 } },
        { tool: 'mastra_workspace_mkdir', args: { path: 'out/deep' } },
        { tool: 'mastra_workspace_write_file', args: { path: 'out/deep/n.txt', content: 'new\n' } },
        { tool: 'mastra_workspace_file_stat', args: { path: 'out/deep/n.txt' } },
        { tool: 'mastra_workspace_file_stat', args: { path: 'out' } },
        { tool: 'mastra_workspace_delete', args: { path: 'src/sub/b.ts' } },
        { tool: 'mastra_workspace_list_files', args: { path: '.', maxDepth: 3 } },
        { tool: 'mastra_workspace_read_file', args: { path: 'missing.txt' } },
      ],
      { files: FILES },
    );
  });

  it('execute_command: output, exit codes, stderr, cwd, env, stdin-reading commands, timeout', async () => {
    await compare(
      [
        { tool: 'mastra_workspace_execute_command', args: { command: 'echo hi && pwd' } },
        { tool: 'mastra_workspace_execute_command', args: { command: 'pwd', cwd: 'src' } },
        { tool: 'mastra_workspace_execute_command', args: { command: 'echo "$GREETING"' } },
        { tool: 'mastra_workspace_execute_command', args: { command: 'echo out; echo err >&2; exit 3' } },
        { tool: 'mastra_workspace_execute_command', args: { command: 'cat; echo returned' } },
        { tool: 'mastra_workspace_execute_command', args: { command: 'python3 -c "input()" 2>&1 | tail -1' } },
        { tool: 'mastra_workspace_execute_command', args: { command: 'seq 1 500', tail: 3 } },
        { tool: 'mastra_workspace_execute_command', args: { command: 'cat src/a.ts | wc -l' } },
        { tool: 'mastra_workspace_execute_command', args: { command: 'sleep 5; echo late', timeout: 1 } },
      ],
      { files: FILES, env: { GREETING: 'hello from env' } },
    );
  });

  it('background processes: execute_command background, get_process_output, kill_process', async () => {
    const results: unknown[][] = [];
    for (const make of [local, providers, composer]) {
      const side = await make({});
      const [started] = await play(side, [{ tool: 'mastra_workspace_execute_command', args: { command: 'echo started; sleep 30', background: true } }]);
      const pid = /PID: (\d+)/.exec(started!.raw)![1]!;
      await new Promise((r) => setTimeout(r, 300));
      const rest = await play(side, [
        { tool: 'mastra_workspace_get_process_output', args: { pid } },
        { tool: 'mastra_workspace_kill_process', args: { pid } },
        { tool: 'mastra_workspace_get_process_output', args: { pid } },
      ]);
      results.push([started!.result, ...rest.map((r) => normalise(JSON.parse(r.raw.replaceAll(pid, '<pid>')), side.dir))]);
    }
    expect(results[1]).toEqual(results[0]);
    expect(results[2]).toEqual(results[0]);
  });

  it('skills discovery and BM25 search over autoIndexPaths', async () => {
    await compare(
      [
        { tool: 'skill', args: { name: 'greet' } },
        { tool: 'skill', args: { name: 'nope' } },
        { tool: 'mastra_workspace_search', args: { query: 'frobnicator widget', topK: 3 } },
      ],
      {
        files: { 'skills/greet/SKILL.md': '---\nname: greet\ndescription: Greets people politely\n---\nSay hello to everyone.\n', 'docs/guide.md': 'The frobnicator rotates the widget.\n', 'docs/other.md': 'Nothing to see.\n' },
        workspace: { skills: ['skills'], bm25: true, autoIndexPaths: ['docs'] },
      },
    );
  });

  it('toolsConfig: renamed tools, requireApproval, a disabled tool', async () => {
    const config = { tools: { mastra_workspace_read_file: { name: 'view' }, mastra_workspace_delete: { enabled: false }, mastra_workspace_write_file: { requireApproval: true } } };
    await compare(
      [
        { tool: 'view', args: { path: 'README.md' } },
        { tool: 'mastra_workspace_read_file', args: { path: 'README.md' } },
        { tool: 'mastra_workspace_delete', args: { path: 'README.md' } },
      ],
      { files: FILES, workspace: config },
      [providers],
    );
    const tools = async (ws: Workspace) => Object.entries(await createWorkspaceTools(ws)).map(([k, t]: [string, any]) => `${k}:${Boolean(t.requireApproval)}`).sort();
    const l = await local({ workspace: config });
    const p = await providers({ workspace: config });
    expect(await tools(p.workspace)).toEqual(await tools(l.workspace));
    expect(await tools(l.workspace)).toContain('mastra_workspace_write_file:true');
  });

  it('a read-only filesystem: the same tools, and writes refused the same way', async () => {
    const l = await local({ files: FILES });
    const lro = new Workspace({ filesystem: new LocalFilesystem({ basePath: l.dir, readOnly: true }), sandbox: new LocalSandbox({ workingDirectory: l.dir, env: { PATH: process.env.PATH! } }) });
    await lro.init();
    closers.push(() => lro.destroy());
    const fs = new InodeFilesystem({ readOnly: true, files: FILES });
    const sb = new PtySandbox();
    const pro = new Workspace({ filesystem: fs, sandbox: sb });
    await pro.init();
    closers.push(() => pro.destroy());
    await sb.mount(fs, '/');
    const names = async (ws: Workspace) => Object.keys(await createWorkspaceTools(ws)).sort();
    expect(await names(pro)).toEqual(await names(lro));
    const steps: ScriptedStep[] = [
      { tool: 'mastra_workspace_read_file', args: { path: 'README.md' } },
      { tool: 'mastra_workspace_write_file', args: { path: 'x.txt', content: 'x' } },
    ];
    const want = await play({ name: 'local-ro', workspace: lro, dir: l.dir, close: async () => {} }, steps);
    const got = await play({ name: 'ours-ro', workspace: pro, dir: sb.workingDirectory!, close: async () => {} }, steps);
    expect(got.map((g) => g.result)).toEqual(want.map((w) => w.result));
    // Commands cannot write to it either (ours: EROFS through FUSE; on purpose, see the README).
    expect((await sb.executeCommand('touch x.txt')).stderr).toMatch(/Read-only file system/);
  });
});

describe('every provider combination tells the model the truth about what commands see', () => {
  const probe = async (ws: Workspace, sandbox: { executeCommand?: (c: string) => Promise<{ stdout: string }> }) => {
    await ws.filesystem!.writeFile('probe.txt', 'seen');
    const r = await sandbox.executeCommand!('cat probe.txt 2>/dev/null || true');
    return r.stdout === 'seen';
  };
  const CLAIM = /file tools are seen by the next command/;
  const combos: Array<[string, () => Promise<{ ws: Workspace; sandbox: any; mount?: () => Promise<unknown> }>]> = [
    ['InodeFilesystem + LocalSandbox', async () => {
      const dir = mkdtempSync(join(tmpdir(), 'vws-parity-combo-'));
      closers.push(async () => rmSync(dir, { recursive: true, force: true }));
      const sandbox = new LocalSandbox({ workingDirectory: dir, env: { PATH: process.env.PATH! } });
      return { ws: new Workspace({ filesystem: new InodeFilesystem(), sandbox }), sandbox };
    }],
    ['InodeFilesystem + PtySandbox without a mount', async () => {
      const sandbox = new PtySandbox();
      return { ws: new Workspace({ filesystem: new InodeFilesystem(), sandbox }), sandbox };
    }],
    ['LocalFilesystem + PtySandbox on different directories', async () => {
      const dir = mkdtempSync(join(tmpdir(), 'vws-parity-combo-'));
      closers.push(async () => rmSync(dir, { recursive: true, force: true }));
      const sandbox = new PtySandbox();
      return { ws: new Workspace({ filesystem: new LocalFilesystem({ basePath: dir }), sandbox }), sandbox };
    }],
    ['InodeFilesystem + PtySandbox mounted at its root', async () => {
      const sandbox = new PtySandbox();
      const filesystem = new InodeFilesystem();
      return { ws: new Workspace({ filesystem, sandbox }), sandbox, mount: () => sandbox.mount(filesystem, '/') };
    }],
  ];
  for (const [name, build] of combos) {
    it(name, async () => {
      const { ws, sandbox, mount } = await build();
      await ws.init();
      closers.push(() => ws.destroy());
      await mount?.();
      const seen = await probe(ws, sandbox);
      const text = ws.getInstructions();
      expect(CLAIM.test(text), `${name}: commands ${seen ? 'see' : 'do not see'} the files; instructions: ${text}`).toBe(seen);
      expect(text).not.toMatch(/seen at once by commands/);
    });
  }
});
