import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { CHUNK, InodeFs, O_RDWR, SnapshotError } from '../src/index.js';

const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

function tree(): InodeFs {
  const fs = new InodeFs({ clock: () => 42n });
  fs.mkdir('/a/b', { recursive: true });
  fs.writeFile('/a/small.txt', 'hello');
  fs.writeFile('/a/b/big.bin', new Uint8Array(3 * CHUNK + 100).fill(7));
  fs.writeFile('/a/same1', 'dup');
  fs.writeFile('/a/same2', 'dup');
  fs.symlink('a/b', '/link');
  fs.link('/a/small.txt', '/hard');
  fs.writeFile('/sparse', '');
  fs.truncate('/sparse', 5 * CHUNK);
  const fh = fs.open(fs.inoOf('/sparse'), O_RDWR);
  fs.write(fh, new Uint8Array([9]), 4 * CHUNK);
  fs.release(fh);
  fs.setxattr(fs.inoOf('/a'), 'user.k', new Uint8Array([1, 2]));
  return fs;
}

const sourceOf = (chunks: Map<string, Uint8Array>) => (hash: string) => {
  const c = chunks.get(hash);
  if (!c) throw new Error(`missing ${hash}`);
  return c;
};

describe('exportManifest / importManifest', () => {
  it('round-trips a state: same fingerprint as the inline snapshot, chunks keyed by their SHA-256', () => {
    const fs = tree();
    const { manifest, chunks } = fs.fork().exportManifest();
    for (const [hash, bytes] of chunks) expect(sha(bytes)).toBe(hash);
    // Equal chunks are listed once; the sparse file's hole is not a chunk.
    expect(chunks.size).toBe(5); // hello, 7s (full), 7s (tail), dup, the sparse file's one chunk
    const back = InodeFs.importManifest(manifest, { chunk: sourceOf(chunks) });
    expect(back.fingerprint()).toBe(fs.fingerprint());
    expect(back.readFile('/a/b/big.bin')).toEqual(fs.readFile('/a/b/big.bin'));
    // The manifest holds hashes, not content.
    expect(manifest.length).toBeLessThan(fs.snapshot().length);
  });

  it('a delta manifest references only the chunks that changed', () => {
    const fs = tree();
    const base = fs.fork();
    const full = base.exportManifest();
    fs.writeFile('/a/small.txt', 'changed');
    const fh = fs.open(fs.inoOf('/a/b/big.bin'), O_RDWR);
    fs.write(fh, new Uint8Array([1]), CHUNK + 5);
    fs.release(fh);
    const now = fs.fork();
    const delta = now.exportManifest({ since: base });
    expect([...delta.chunks.keys()].sort()).toEqual([sha(fs.readFile('/a/small.txt')), sha(fs.readFile('/a/b/big.bin').subarray(CHUNK, 2 * CHUNK))].sort());
    const parent = InodeFs.importManifest(full.manifest, { chunk: sourceOf(full.chunks) });
    const back = InodeFs.importManifest(delta.manifest, { parent, chunk: sourceOf(delta.chunks) });
    expect(back.fingerprint()).toBe(fs.fingerprint());
  });

  it('refuses what it cannot read, with SnapshotError', () => {
    const fs = tree();
    const { manifest, chunks } = fs.exportManifest();
    // A manifest is not an inline snapshot.
    expect(() => InodeFs.restore(manifest)).toThrow(/manifest/);
    // A missing chunk surfaces the source's error; a source giving no bytes is a SnapshotError.
    expect(() => InodeFs.importManifest(manifest, { chunk: () => undefined as unknown as Uint8Array })).toThrow(SnapshotError);
    expect(() => InodeFs.importManifest(manifest, { chunk: () => new Uint8Array(CHUNK + 1) })).toThrow(/more than/);
    // Damage is caught by the checksum.
    const bad = Uint8Array.from(manifest);
    bad[bad.length - 10] ^= 1;
    expect(() => InodeFs.importManifest(bad, { chunk: sourceOf(chunks) })).toThrow(/checksum/);
    // A delta needs its parent.
    const base = fs.fork();
    fs.writeFile('/x', 'x');
    expect(() => InodeFs.importManifest(fs.exportManifest({ since: base }).manifest, { chunk: sourceOf(chunks) })).toThrow(/parent/);
  });

  it('hashes a chunk written in place after an export anew (no stale cached hash)', () => {
    const fs = new InodeFs();
    fs.writeFile('/f', 'one');
    const first = fs.exportManifest(); // exported from the live state: its chunks may still change
    const fh = fs.open(fs.inoOf('/f'), O_RDWR);
    fs.write(fh, new TextEncoder().encode('two'), 0);
    fs.release(fh);
    const second = fs.exportManifest();
    expect([...second.chunks.keys()]).toEqual([sha(new TextEncoder().encode('two'))]);
    expect([...first.chunks.keys()]).toEqual([sha(new TextEncoder().encode('one'))]);
  });

  it('a delta can name its parent by a caller id (no full-state hash); the wrong id or a bad one is refused', () => {
    const fs = tree();
    const base = fs.fork();
    const full = base.exportManifest();
    fs.writeFile('/a/small.txt', 'v2');
    const id = 'ab'.repeat(32);
    const delta = fs.fork().exportManifest({ since: base, parentId: id });
    const parent = InodeFs.importManifest(full.manifest, { chunk: sourceOf(full.chunks) });
    const back = InodeFs.importManifest(delta.manifest, { parent, parentId: id, chunk: sourceOf(delta.chunks) });
    expect(back.fingerprint()).toBe(fs.fingerprint());
    expect(() => InodeFs.importManifest(delta.manifest, { parent, parentId: 'cd'.repeat(32), chunk: sourceOf(delta.chunks) })).toThrow(/different parent/);
    // Without the id, the parent's fingerprint is what it is checked against: not this id.
    expect(() => InodeFs.importManifest(delta.manifest, { parent, chunk: sourceOf(delta.chunks) })).toThrow(/different parent/);
    expect(() => fs.exportManifest({ since: base, parentId: 'xyz' })).toThrow(/64 lowercase hex/);
  });
});
