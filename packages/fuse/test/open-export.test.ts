// openExport of an engine on the serving thread: the manifest and the chunks' hashes come across at
// once, the bytes a batch at a time (each batch a copy handed over), until the host closes it. A
// save of a big tree then holds one batch here, not a second copy of the tree. Same answers as the
// engine gives on this thread.
import { createHash } from 'node:crypto';
import { InodeFs } from '@vws/inode-fs';
import { expect, it } from 'vitest';
import { releaseEngine, restoreForMount } from '../src/index.js';
import { isRemote } from '../src/remote-fs.js';

it('reads a served engine\'s export in batches, as the local engine exports it; closed, it is gone', () => {
  const seed = new InodeFs();
  seed.mkdir('/d');
  for (let i = 0; i < 20; i++) seed.writeFile(`/d/f${i}`, new Uint8Array(40_000).map((_, j) => (i * 7 + j) % 251));
  const local = seed.openExport();
  const fs = restoreForMount(seed.fork().snapshot());
  expect(isRemote(fs)).toBe(true);
  try {
    const exp = fs.openExport();
    expect(Buffer.from(exp.manifest)).toEqual(Buffer.from(local.manifest));
    expect(exp.chunks).toEqual(local.chunks);
    expect(exp.unfetched).toEqual([]);
    const hashes = exp.chunks.map(([h]) => h);
    // Two batches; every chunk's bytes match its hash and length.
    for (const batch of [hashes.slice(0, 10), hashes.slice(10)]) {
      const got = exp.read(batch);
      expect([...got.keys()]).toEqual(batch);
      for (const [h, bytes] of got) {
        expect(createHash('sha256').update(bytes).digest('hex')).toBe(h);
        expect(bytes.length).toBe(exp.chunks.find(([x]) => x === h)![1]);
      }
    }
    expect(() => exp.read(['0'.repeat(64)])).toThrow(/not part of export/);
    exp.close();
    expect(() => exp.read(hashes.slice(0, 1))).toThrow(/no open export/);
    // A delta export against a fork: only the changed file's chunks.
    const base = fs.fork();
    fs.writeFile('/d/f3', 'changed');
    const delta = fs.openExport({ since: base });
    expect(delta.chunks).toEqual([[createHash('sha256').update('changed').digest('hex'), 7]]);
    delta.close();
    releaseEngine(base);
  } finally {
    releaseEngine(fs);
  }
});
