// The providers on a store: InodeFilesystem and the composer (real FUSE, real PTY) work on a state
// opened from Postgres, and what a command writes is in the next checkpoint, seen by a fresh open.

import { afterEach, expect, inject, it } from 'vitest';
import { InodeFilesystem } from '@vws/filesystem-inode';
import { createVwsWorkspace, type VwsWorkspace } from '@vws/workspace';
import { openFromStore } from '@vws/store';
import { PostgresStore } from '../src/index.js';

let n = 0;
const connect = () => PostgresStore.connect({ connectionString: inject('pgUrl'), schema: `w_${process.pid}_${n++}` });
let vws: VwsWorkspace | undefined;
afterEach(async () => {
  await vws?.destroy();
  vws = undefined;
});

it('InodeFilesystem over a stored workspace: Mastra writes, a save, another connection reads them', async () => {
  const store = await connect();
  const ws = await openFromStore(store, 'fs', { lease: { holder: 'test' } });
  const fs = new InodeFilesystem({ fs: ws.engine });
  await fs.init();
  await fs.writeFile('notes/todo.md', '- ship the store\n', { recursive: true });
  await ws.save({ name: 'first' });
  await ws.close();
  const other = await PostgresStore.connect({ connectionString: inject('pgUrl'), schema: store.schema });
  const again = new InodeFilesystem({ fs: (await openFromStore(other, 'fs')).engine });
  await again.init();
  expect(await again.readFile('notes/todo.md', { encoding: 'utf-8' })).toBe('- ship the store\n');
  await store.close();
  await other.close();
});

it('the composer on a stored workspace: a shell command in the sandbox writes, the checkpoint carries it', async () => {
  const store = await connect();
  const ws = await openFromStore(store, 'agent', { lease: { holder: 'worker-1' } });
  ws.engine.writeFile('/input.txt', 'hello from the store\n');
  await ws.save();
  vws = await createVwsWorkspace({ engine: ws.engine });
  const r = await vws.sandbox.executeCommand('tr a-z A-Z < input.txt > output.txt && wc -c < output.txt');
  expect(r.exitCode, r.stderr).toBe(0);
  expect(r.stdout.trim()).toBe('21');
  const saved = await ws.save();
  expect(saved.kind).toBe('delta');
  expect(saved.chunksSent).toBe(1);
  await ws.close();
  const fresh = await openFromStore(store, 'agent');
  expect(fresh.engine.readFile('/output.txt', 'utf8')).toBe('HELLO FROM THE STORE\n');
  await store.close();
});
