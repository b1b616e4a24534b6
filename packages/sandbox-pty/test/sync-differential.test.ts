// Sync mode, differential: a seeded random mix of changes through the API (the engine) and through
// commands (the shadow directory) over many rounds; after each half the engine and the shadow are
// equal (kinds, modes, contents, symlink targets, hard links). Both ways of finding a command's
// changes are checked: inotify (Linux's default) and the stat walk (macOS's).

import { lstatSync, readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { InodeFilesystem } from '@vws/filesystem-inode';
import type { InodeFs } from '@vws/inode-fs';
import { afterEach, describe, expect, it } from 'vitest';
import { PtySandbox } from '../src/index.js';

const sandboxes: PtySandbox[] = [];
afterEach(async () => {
  for (const sb of sandboxes.splice(0)) await sb.destroy();
  delete process.env.VWS_SYNC_SCAN;
});

function prng(seed: number) {
  let s = seed >>> 0;
  const next = () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(next() * xs.length)]!;
  return { next, pick };
}

const sha = (b: Uint8Array) => createHash('sha1').update(b).digest('hex').slice(0, 12);

type Node = { kind: string; mode: number; data: string; links: string };

/** path -> what it is; hard links as the sorted list of names of the same inode. */
function engineTree(e: InodeFs): Map<string, Node> {
  const out = new Map<string, Node>();
  const byIno = new Map<number, string[]>();
  const walk = (dir: string) => {
    for (const name of e.readdir(dir)) {
      const p = dir === '/' ? `/${name}` : `${dir}/${name}`;
      const st = e.lstat(p);
      const kind = st.kind === 'directory' ? 'dir' : st.kind === 'symlink' ? 'link' : 'file';
      const data = kind === 'file' ? sha(e.readFile(p)) : kind === 'link' ? e.readlink(p) : '';
      out.set(p, { kind, mode: kind === 'link' ? 0 : st.mode & 0o7777, data, links: String(st.ino) });
      if (kind === 'file') byIno.set(st.ino, [...(byIno.get(st.ino) ?? []), p]);
      if (kind === 'dir') walk(p);
    }
  };
  walk('/');
  for (const n of out.values()) if (n.kind === 'file') n.links = byIno.get(Number(n.links))!.sort().join(',');
  else n.links = '';
  return out;
}

function hostTree(root: string): Map<string, Node> {
  const out = new Map<string, Node>();
  const byIno = new Map<number, string[]>();
  const walk = (dir: string) => {
    for (const name of readdirSync(join(root, dir)).sort()) {
      const p = `${dir}/${name}`;
      const st = lstatSync(join(root, p));
      const kind = st.isDirectory() ? 'dir' : st.isSymbolicLink() ? 'link' : 'file';
      const data = kind === 'file' ? sha(readFileSync(join(root, p))) : kind === 'link' ? readlinkSync(join(root, p)) : '';
      out.set(p, { kind, mode: kind === 'link' ? 0 : st.mode & 0o7777, data, links: String(st.ino) });
      if (kind === 'file') byIno.set(st.ino, [...(byIno.get(st.ino) ?? []), p]);
      if (kind === 'dir') walk(p);
    }
  };
  walk('');
  for (const n of out.values()) if (n.kind === 'file') n.links = byIno.get(Number(n.links))!.sort().join(',');
  else n.links = '';
  return out;
}

const NAMES = ['a', 'b', 'c', 'dd'] as const;
const randPath = (r: ReturnType<typeof prng>) => {
  const n = 1 + Math.floor(r.next() * 3);
  return Array.from({ length: n }, () => r.pick(NAMES)).join('/');
};
const text = (r: ReturnType<typeof prng>) => 'x'.repeat(Math.floor(r.next() * 3000)) + String(Math.floor(r.next() * 1e6));

/** One random change through the API; errors (ENOENT, EEXIST...) are part of the game. */
function apiOp(e: InodeFs, r: ReturnType<typeof prng>): void {
  const p = `/${randPath(r)}`;
  const q = `/${randPath(r)}`;
  const ops: Array<() => void> = [
    () => e.writeFile(p, text(r)),
    () => e.appendFile(p, text(r)),
    () => e.truncate(p, Math.floor(r.next() * 100)),
    () => e.rename(p, q),
    () => e.link(p, q),
    () => e.symlink(r.pick(NAMES), q),
    () => e.chmod(p, e.stat(p).kind === 'directory' ? r.pick([0o755, 0o700, 0o750]) : r.pick([0o644, 0o755, 0o600, 0o700])),
    () => e.unlink(p),
    () => e.mkdir(p),
    () => e.mkdir(p, { recursive: true }),
    () => e.rmdir(p),
    () => e.rm(p, { recursive: true }),
  ];
  try {
    r.pick(ops)();
  } catch {
    // the random path did not fit the op
  }
}

/** The same kinds of change as a shell line. */
function shellOp(r: ReturnType<typeof prng>): string {
  const p = randPath(r);
  const q = randPath(r);
  return r.pick([
    `printf '%s' '${text(r)}' > ${p}`,
    `printf '%s' '${text(r)}' >> ${p}`,
    `truncate -s ${Math.floor(r.next() * 100)} ${p}`,
    `mv -T ${p} ${q}`,
    `ln ${p} ${q}`,
    `ln -s ${r.pick(NAMES)} ${q}`,
    `if [ -d ${p} ]; then chmod ${r.pick(['755', '700', '750'])} ${p}; else chmod ${r.pick(['644', '755', '600', '700'])} ${p}; fi`,
    `rm -f ${p}`,
    `mkdir ${p}`,
    `mkdir -p ${p}`,
    `rmdir ${p}`,
    `rm -rf ${p}`,
    `cp -r ${p} ${q}`,
  ]);
}

describe.each(['watch', 'walk'] as const)('sync mode, finding changes by %s', (scan) => {
  // More seeds: VWS_DIFF_SEEDS=40 npx vitest run test/sync-differential.test.ts
  it.each(Array.from({ length: Number(process.env.VWS_DIFF_SEEDS ?? 3) }, (_, i) => i + 1))('seed %i: engine == shadow after every API round and every command round', async (seed) => {
    process.env.VWS_SYNC_SCAN = scan;
    const fs = new InodeFilesystem();
    const sb = new PtySandbox({ syncMode: true });
    sandboxes.push(sb);
    await sb.mount(fs, '/');
    const r = prng(seed);
    let largest = 0;
    for (let round = 0; round < 40; round++) {
      for (let i = 0; i < 6; i++) apiOp(fs.engine, r);
      await sb.sync();
      expect(hostTree(sb.workingDirectory!), `round ${round}, after API changes`).toEqual(engineTree(fs.engine));
      const line = Array.from({ length: 6 }, () => `{ ${shellOp(r)}; } 2>/dev/null`).join('\n');
      const res = await sb.executeCommand(`${line}\ntrue`);
      expect(res.exitCode, res.stderr).toBe(0);
      const tree = engineTree(fs.engine);
      expect(tree, `round ${round}, after: ${line}`).toEqual(hostTree(sb.workingDirectory!));
      largest = Math.max(largest, tree.size);
    }
    expect(largest).toBeGreaterThan(5); // the game did build something
  });
});
