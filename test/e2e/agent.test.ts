// End to end: a real Mastra Agent with a scripted model works in a vws workspace through the
// auto-injected mastra_workspace_* tools and our own tools; each effect is checked in the engine and
// through the mount.

import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { execFileSync } from 'node:child_process';
import { Agent } from '@mastra/core/agent';
import { afterEach, describe, expect, it } from 'vitest';
import { createVwsWorkspace, scriptedModel, type ScriptedStep, type VwsWorkspace } from '@vws/workspace';

const open: VwsWorkspace[] = [];
afterEach(async () => {
  for (const v of open.splice(0)) await v.destroy();
});
/** A workspace served over FUSE, or in the sandbox's sync mode (a shadow directory, no FUSE). */
async function make(mode: 'fuse' | 'sync', options: Parameters<typeof createVwsWorkspace>[0] = {}) {
  const v = await createVwsWorkspace({ ...options, ...(mode === 'sync' ? { syncMode: true } : {}) });
  open.push(v);
  expect(v.sandbox.mountModes()).toEqual({ '/': mode });
  return v;
}

type ToolResult = { name: string; result: any };
async function play(vws: VwsWorkspace, steps: ScriptedStep[]): Promise<ToolResult[]> {
  const agent = new Agent({ id: 'e2e', name: 'e2e', instructions: 'You are a careful engineer.', model: scriptedModel(steps), workspace: vws.workspace, tools: vws.tools });
  const res = await agent.generate('work', { maxSteps: steps.length + 2 });
  return res.steps.flatMap((s) => s.toolResults ?? []).map((r: any) => ({ name: r.payload?.toolName ?? r.toolName, result: r.payload?.result ?? r.result }));
}

describe.each(['fuse', 'sync'] as const)('%s', (mode) => {
  describe('an Agent in a vws workspace', () => {
    it('uses every file tool, execute_command (foreground and background) and our checkpoint/diff/fork tools', async () => {
      const vws = await make(mode, { files: { '/README.md': '# project\n' } });
      const steps: ScriptedStep[] = [
        { tool: 'mastra_workspace_mkdir', args: { path: 'src', recursive: true } },
        { tool: 'mastra_workspace_write_file', args: { path: 'src/add.js', content: 'module.exports = (a, b) => a + b;\n', overwrite: true } },
        { tool: 'mastra_workspace_write_file', args: { path: 'test.js', content: "const add = require('./src/add');\nif (add(2, 3) !== 5) { console.error('FAIL'); process.exit(1); }\nconsole.log('PASS');\n", overwrite: true } },
        { tool: 'mastra_workspace_execute_command', args: { command: 'node test.js' } },
        { tool: 'vws_checkpoint_save', args: { name: 'green' } },
        { tool: 'mastra_workspace_read_file', args: { path: 'src/add.js' } },
        { tool: 'mastra_workspace_edit_file', args: { path: 'src/add.js', old_string: 'a + b', new_string: 'a - b', replace_all: false } },
        { tool: 'mastra_workspace_execute_command', args: { command: 'node test.js' } },
        { tool: 'vws_diff', args: { since: 'green', patch: true } },
        { tool: 'vws_checkpoint_restore', args: { name: 'green' } },
        { tool: 'mastra_workspace_list_files', args: { path: '.', maxDepth: 3, showHidden: false, dirsOnly: false, respectGitignore: false } },
        { tool: 'mastra_workspace_grep', args: { pattern: 'a \\+ b', path: '.', contextLines: 0, caseSensitive: true, includeHidden: false } },
        { tool: 'mastra_workspace_file_stat', args: { path: 'src/add.js' } },
        { tool: 'vws_fork', args: { keepAs: 'main-line' } },
        { tool: 'mastra_workspace_write_file', args: { path: 'scratch.txt', content: 'temp', overwrite: true } },
        { tool: 'mastra_workspace_delete', args: { path: 'scratch.txt', recursive: false } },
        { tool: 'mastra_workspace_execute_command', args: { command: 'sleep 30', background: true } },
        { tool: 'vws_checkpoint_list', args: {} },
      ];
      const results = await play(vws, steps);
      expect(results.map((r) => r.name)).toEqual(steps.map((s) => s.tool));
      const out = (i: number) => JSON.stringify(results[i].result);
      expect(out(3)).toContain('PASS');
      expect(out(7)).toContain('FAIL');
      expect(results[8].result.modified).toEqual(['src/add.js']);
      expect(results[8].result.patch).toContain('-module.exports = (a, b) => a + b;');
      expect(results[8].result.patch).toContain('+module.exports = (a, b) => a - b;');
      // After restore: the engine and the mount both hold the green version.
      expect(vws.filesystem.engine.readFile('/src/add.js', 'utf8')).toContain('a + b');
      await vws.sandbox.sync(); // sync mode: the host directory is level with the engine before a command or on sync()
      expect(await readFile(join(vws.path, 'src/add.js'), 'utf8')).toContain('a + b');
      expect(out(10)).toContain('add.js');
      expect(out(11)).toContain('add.js');
      expect(vws.filesystem.engine.exists('/scratch.txt')).toBe(false);
      expect(vws.filesystem.listCheckpoints().map((c) => c.name)).toEqual(['green', 'main-line']);
      // The background command is listed, then killed through the tools.
      const pidMatch = /PID:?\s*(\d+)/i.exec(out(16)) ?? /"pid":"?(\d+)/.exec(out(16)) ?? /(\d{2,})/.exec(out(16));
      expect(pidMatch).not.toBeNull();
      const bg = await play(vws, [
        { tool: 'mastra_workspace_get_process_output', args: { pid: pidMatch![1] } },
        { tool: 'mastra_workspace_kill_process', args: { pid: pidMatch![1] } },
      ]);
      expect(bg.map((r) => r.name)).toEqual(['mastra_workspace_get_process_output', 'mastra_workspace_kill_process']);
      expect(JSON.stringify(bg[1].result).toLowerCase()).toMatch(/kill|terminat|stopp/);
      expect((await vws.sandbox.processes.list()).filter((p) => p.running)).toEqual([]);
    });

    it('runs code and reports the files it changed', async () => {
      const vws = await make(mode);
      const [r] = await play(vws, [{ tool: 'vws_execute_code', args: { code: "require('fs').writeFileSync('made-by-code.txt', String(6 * 7)); console.log('ok')", runtime: 'node' } }]);
      expect(r.result.stdout).toBe('ok\n');
      expect(r.result.changes.created).toEqual(['made-by-code.txt']);
      expect(vws.filesystem.engine.readFile('/made-by-code.txt', 'utf8')).toBe('42');
      const py = await vws.sandbox.executeCode('print(sum(range(10)))', { runtime: 'python' });
      expect(py.stdout).toBe('45\n');
    });
  });

  describe('rewind, snapshot/clone, import and export', () => {
    it('after five turns with per-turn checkpoints, rewinding to turn 2 gives exactly turn 2\'s tree', async () => {
      const vws = await make(mode, { perTurnCheckpoints: true });
      const before: string[] = [];
      for (let t = 1; t <= 5; t++) {
        before.push(vws.filesystem.engine.fingerprint());
        await vws.turn(() => play(vws, [{ tool: 'mastra_workspace_write_file', args: { path: `turn${t}.txt`, content: `turn ${t}`, overwrite: true } }, { tool: 'mastra_workspace_execute_command', args: { command: `echo ${t} >> log.txt` } }]));
      }
      expect(vws.turns()).toEqual(['turn-1', 'turn-2', 'turn-3', 'turn-4', 'turn-5']);
      vws.rewindTo(2);
      expect(vws.filesystem.engine.fingerprint()).toBe(before[1]);
      expect(vws.filesystem.engine.readdir('/').sort()).toEqual(['log.txt', 'turn1.txt']);
      await vws.sandbox.sync();
      expect(await readFile(join(vws.path, 'log.txt'), 'utf8')).toBe('1\n');
    });

    it("sandbox.snapshot() then clone({ checkpointName }) equals the checkpoint, and the two stay apart", async () => {
      const vws = await make(mode, { files: { '/v.txt': 'one' } });
      await vws.sandbox.snapshot();
      const name = vws.sandbox.latestSnapshot!;
      await vws.sandbox.executeCommand('echo two > v.txt');
      const twin = vws.sandbox.clone({ checkpointName: name }) as typeof vws.sandbox;
      try {
        expect((await twin.executeCommand('cat v.txt')).stdout).toBe('one');
        await twin.executeCommand('echo three > v.txt');
        expect(vws.filesystem.engine.readFile('/v.txt', 'utf8')).toBe('two\n');
      } finally {
        await twin.destroy();
      }
    });

    it('imports a host directory and exports to a directory and a tarball', async () => {
      const src = mkdtempSync(join(tmpdir(), 'vws-src-'));
      const out = mkdtempSync(join(tmpdir(), 'vws-out-'));
      try {
        execFileSync('sh', ['-c', 'mkdir -p a/b && echo hi > a/b/f && chmod 750 a/b/f && ln -s a/b/f l'], { cwd: src });
        const vws = await make(mode, { files: src });
        expect(vws.filesystem.engine.readFile('/a/b/f', 'utf8')).toBe('hi\n');
        expect(vws.filesystem.engine.stat('/a/b/f').mode & 0o777).toBe(0o750);
        expect(vws.filesystem.engine.readlink('/l')).toBe('a/b/f');
        await vws.exportTo(join(out, 'dir'));
        expect(execFileSync('sh', ['-c', 'cat dir/l && stat -c %a dir/a/b/f'], { cwd: out, encoding: 'utf8' })).toBe('hi\n750\n');
        await vws.exportTo(join(out, 'ws.tar.gz'));
        expect(execFileSync('tar', ['tzf', join(out, 'ws.tar.gz')], { encoding: 'utf8' })).toContain('./a/b/f');
      } finally {
        rmSync(src, { recursive: true, force: true });
        rmSync(out, { recursive: true, force: true });
      }
    });

    it('bad options are refused at once', async () => {
      await expect(createVwsWorkspace({ isolation: 'vm' } as never)).rejects.toThrow(/isolation/);
    });
  });
});
