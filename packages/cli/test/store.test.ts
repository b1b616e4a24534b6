// `vws store` against a real throwaway Postgres: a vault pushed from one $VWS_HOME is pulled into
// another (a second machine) byte for byte; errors keep their exit codes.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startCluster, type Cluster } from '../../store-postgres/test/cluster.js';
import { run } from './helpers.js';

let cluster: Cluster;
let a: string;
let b: string;
let env: Record<string, string>;

beforeAll(async () => {
  cluster = await startCluster();
  a = mkdtempSync(join(tmpdir(), 'vws-home-a-'));
  b = mkdtempSync(join(tmpdir(), 'vws-home-b-'));
  env = { VWS_STORE: cluster.url, VWS_STORE_SCHEMA: 'cli_test' };
}, 120_000);
afterAll(() => {
  cluster?.stop();
  rmSync(a, { recursive: true, force: true });
  rmSync(b, { recursive: true, force: true });
});

const ok = async (home: string, args: string[], input?: string) => {
  const r = await run(home, args, { env, input });
  expect(r.code, r.stderr).toBe(0);
  return r.stdout;
};

it('push from one $VWS_HOME, pull into another: the same tree; a second push sends only what changed', async () => {
  await ok(a, ['vault', 'create', 'proj']);
  await ok(a, ['--vault', 'proj', 'mkdir', '/src']);
  await ok(a, ['--vault', 'proj', 'write', '/src/main.ts'], 'console.log("hi")\n');
  for (let i = 0; i < 10; i++) await ok(a, ['--vault', 'proj', 'write', `/f${i}.txt`, `file ${i}`]);
  const first = JSON.parse(await ok(a, ['--json', '--vault', 'proj', 'store', 'push', '--name', 'v1']));
  expect(first).toMatchObject({ workspace: 'proj', kind: 'full', chunksSent: 11 });
  await ok(a, ['--vault', 'proj', 'write', '/f7.txt', 'changed']);
  const second = JSON.parse(await ok(a, ['--json', '--vault', 'proj', 'store', 'push']));
  expect(second).toMatchObject({ workspace: 'proj', kind: 'delta', chunksSent: 1 });

  const pulled = JSON.parse(await ok(b, ['--json', 'store', 'pull', 'proj']));
  expect(pulled).toMatchObject({ vault: 'proj', workspace: 'proj', checkpoint: second.checkpoint });
  expect(await ok(b, ['--vault', 'proj', 'cat', '/f7.txt'])).toBe('changed');
  expect(await ok(b, ['--vault', 'proj', 'cat', '/src/main.ts'])).toBe('console.log("hi")\n');
  // The named checkpoint, into another vault.
  await ok(b, ['store', 'pull', 'proj', '--checkpoint', 'v1', '--into', 'old']);
  expect(await ok(b, ['--vault', 'old', 'cat', '/f7.txt'])).toBe('file 7');
  const list = JSON.parse(await ok(b, ['--json', 'store', 'list']));
  expect(list.workspaces).toEqual([expect.objectContaining({ workspace: 'proj', head: second.checkpoint })]);
  // GC keeps the head and the named checkpoint: with both, nothing is unreachable yet.
  expect(JSON.parse(await ok(b, ['--json', 'store', 'gc', '--retain-ms', '0']))).toEqual({ checkpoints: 0, chunks: 0, bytes: 0 });
  await ok(a, ['--vault', 'proj', 'write', '/f7.txt', 'changed again']);
  await ok(a, ['--vault', 'proj', 'store', 'push']);
  // The middle checkpoint is neither head nor named, but the new head is a delta on it: it stays, and
  // the head still restores.
  const gc = JSON.parse(await ok(b, ['--json', 'store', 'gc', '--retain-ms', '0']));
  expect(gc.checkpoints).toBe(0);
  await ok(b, ['store', 'pull', 'proj']);
  expect(await ok(b, ['--vault', 'proj', 'cat', '/f7.txt'])).toBe('changed again');
  expect((await run(b, ['store', 'gc', '--retain-ms', 'soon'], { env })).code).toBe(2);
  expect(await ok(b, ['--vault', 'old', 'cat', '/f7.txt'])).toBe('file 7');
}, 120_000);

it('errors: no VWS_STORE (exit 2), a malformed one (exit 2), an unknown workspace (exit 3)', async () => {
  const none = await run(b, ['store', 'list'], { env: { VWS_STORE: '' } });
  expect(none.code).toBe(2);
  expect(none.stderr).toMatch(/VWS_STORE is not set/);
  const bad = await run(b, ['store', 'list'], { env: { VWS_STORE: 'localhost:5432' } });
  expect(bad.code).toBe(2);
  expect(bad.stderr).toMatch(/postgres:\/\//);
  const missing = await run(b, ['store', 'pull', 'nope'], { env });
  expect(missing.code).toBe(3);
  expect(missing.stderr).toMatch(/no workspace 'nope'/);
}, 60_000);
