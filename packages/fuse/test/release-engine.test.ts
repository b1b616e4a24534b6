// releaseEngine(): a serving-thread engine (a fork taken for one command's change report) is let go
// at once, not when its host handle happens to be collected.
import { InodeFs } from '@vws/inode-fs';
import { afterEach, describe, expect, it } from 'vitest';
import { mount, releaseEngine, restoreForMount, type Mount } from '../src/index.js';

let m: Mount | undefined;
afterEach(async () => {
  await m?.unmount();
  m = undefined;
});

describe('releaseEngine', () => {
  it('frees a fork on the serving thread now; the engine it was taken from is untouched', async () => {
    const seed = new InodeFs();
    seed.writeFile('/a', 'one');
    const fs = restoreForMount(seed.snapshot());
    m = await mount(fs); // the engine lives on the serving thread
    const before = fs.fork();
    fs.writeFile('/a', 'two');
    expect(before.diff(fs).modified.map((c) => c.path)).toEqual(['/a']);
    releaseEngine(before);
    releaseEngine(before); // twice: harmless
    // The release rides along with the next call; the fork is gone over there from then on.
    expect(Buffer.from(fs.readFile('/a')).toString()).toBe('two');
    expect(() => before.stat('/a')).toThrow(/released/);
    expect(Buffer.from(fs.readFile('/a')).toString()).toBe('two');
    releaseEngine(new InodeFs()); // an engine on this thread: nothing to do
  });
});
