// The demo runs end to end (a real Mastra Agent, scripted model, real FUSE and PTY) in under 30 s,
// and its transcript shows every step with the expected results and the final state. It runs the
// same in a bubblewrap namespace whose /dev has no fuse device (as a container started without
// --device /dev/fuse): there the sandbox serves the workspace in sync mode.

import { spawn } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect, it } from 'vitest';

const here = dirname(fileURLToPath(import.meta.url));

function runDemo(withoutFuse = false): Promise<{ code: number | null; out: string; ms: number }> {
  const t0 = Date.now();
  const node = [process.execPath, '--import', 'tsx', '--conditions=@vws/source', join(here, '../src/demo.ts')];
  // bwrap must be installed (scripts/setup.sh does): the whole machine, but a /dev without fuse.
  const argv = withoutFuse ? ['bwrap', '--bind', '/', '/', '--dev', '/dev', '--proc', '/proc', '--', ...node] : node;
  return new Promise((resolve, reject) => {
    // Asynchronous, cwd outside any mount: the demo serves its own FUSE mount in that child.
    const child = spawn(argv[0]!, argv.slice(1), {
      cwd: join(here, '..'),
      env: { ...process.env, VWS_DEMO_JSON: '1', VWS_MODEL: '' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (out += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, out, ms: Date.now() - t0 });
    });
  });
}

it.each([
  ['with FUSE', false],
  ['without /dev/fuse (sync mode)', true],
])('%s: the demo runs offline in under 30 s and its transcript shows each step and the final state', async (_name, withoutFuse) => {
  const { code, out, ms } = await runDemo(withoutFuse);
  expect(code, out).toBe(0);
  // Where the workspace lives says how it is served: a shadow directory in /dev/shm without FUSE.
  const at = /workspace mounted at (\S+)/.exec(out)?.[1];
  if (withoutFuse) expect(at).toMatch(/^\/dev\/shm\/vws-sync-/);
  else expect(at).toMatch(/vws-sbx-/);
  expect(ms).toBeLessThan(30_000);
  const { summary, transcript } = JSON.parse(out.trim().split('\n').at(-1)!) as {
    summary: { toolCalls: number; checkpoints: string[]; files: string[]; answer: string };
    transcript: Array<{ step: number; tool: string; result: any; ms: number }>;
  };
  const tools = transcript.map((t) => t.tool);
  expect(tools).toEqual([
    'mastra_workspace_write_file',
    'mastra_workspace_write_file',
    'mastra_workspace_execute_command',
    'mastra_workspace_execute_command',
    'vws_checkpoint_save',
    'mastra_workspace_read_file',
    'mastra_workspace_edit_file',
    'mastra_workspace_execute_command',
    'vws_checkpoint_restore',
    'mastra_workspace_execute_command',
    'vws_fork',
    'mastra_workspace_write_file',
    'mastra_workspace_execute_command',
    'vws_diff',
  ]);
  const text = (i: number) => JSON.stringify(transcript[i].result);
  expect(text(2)).toContain('PASS');
  expect(text(3)).toContain('mean with a test');
  expect(text(7)).toContain('FAIL: mean gave 2');
  expect(text(9)).toContain('PASS');
  expect(text(12)).toContain('PASS');
  const diff = transcript[13].result;
  expect(diff.modified).toEqual(['src/stats.js']);
  expect(diff.patch).toContain('+  for (const x of xs) sum += x;');
  expect(summary.checkpoints).toEqual(['turn-1', 'green', 'reduce-version']);
  expect(summary.files).toEqual(['.git', 'README.md', 'src', 'test.js']);
  expect(transcript.every((t) => t.ms >= 0)).toBe(true);
  expect(out).toMatch(/summary: 14 tool calls/);
});
