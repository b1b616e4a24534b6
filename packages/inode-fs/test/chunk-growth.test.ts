// A file written in small pieces (a pipe writes 4-8 KiB at a time) gets each chunk past its first at
// full size at once: grown write by write, every chunk left a garbage buffer behind that the GC took
// late (1 GiB written in 8 KiB pieces held 1.6 GiB of buffers).
import { describe, expect, it } from 'vitest';
import { CHUNK, InodeFs } from '../src/index.js';

describe('chunks of a file written in small pieces', () => {
  it('are allocated once: buffers held stay near the bytes written', () => {
    const fs = new InodeFs();
    fs.writeFile('/f', '');
    const ino = fs.inoOf('/f');
    const piece = new Uint8Array(8192).fill(7);
    const total = 64 * 1024 * 1024;
    const before = process.memoryUsage().arrayBuffers;
    for (let at = 0; at < total; at += piece.length) fs.writeIno(ino, piece, at);
    const held = process.memoryUsage().arrayBuffers - before;
    // (A GC meanwhile may take buffers that were garbage before: hence not exactly `total` from below.)
    expect(held).toBeGreaterThan(total * 0.9);
    expect(held).toBeLessThan(total * 1.1);
    expect(fs.stat('/f').blocks * 512).toBe(total);
  });

  it('a small file still takes only what it holds', () => {
    const fs = new InodeFs();
    fs.writeFile('/s', new Uint8Array(100));
    expect(fs.stat('/s').blocks).toBe(1);
    // A byte far out: one full chunk there (past the first), nothing in between.
    fs.writeIno(fs.inoOf('/s'), new Uint8Array([1]), 10 * CHUNK);
    expect(fs.stat('/s').blocks * 512).toBe(512 + CHUNK);
  });
});
