// countUsage() recounts from the tree what usage() keeps as running counters; repairUsage() drops
// inodes nothing keeps and sets the counters to the recount.
import { describe, expect, it } from 'vitest';
import { InodeFs } from '../src/index.js';

describe('usage recount', () => {
  it('agrees with the counters after creates, links, truncates and deletes', () => {
    const fs = new InodeFs();
    fs.mkdir('/d');
    fs.writeFile('/d/a', Buffer.alloc(1000));
    fs.link('/d/a', '/b');
    fs.symlink('/d/a', '/s');
    fs.writeFile('/c', 'xyz');
    fs.truncate('/c', 1);
    fs.unlink('/d/a');
    expect(fs.countUsage()).toEqual(fs.usage());
    expect(fs.usage()).toEqual({ inodes: 5, bytes: 1000 + 1 + '/d/a'.length });
  });

  it('keeps an unlinked inode that is still held; a restore, which the hold does not travel to, charges it no more', () => {
    const fs = new InodeFs();
    fs.writeFile('/gone', Buffer.alloc(4096));
    const ino = fs.stat('/gone').ino;
    fs.hold(ino);
    fs.unlink('/gone');
    expect(fs.countUsage()).toEqual({ inodes: 2, bytes: 4096 }); // held: still there
    expect(fs.repairUsage().after).toEqual({ inodes: 2, bytes: 4096 });
    // As a snapshot saves it: the hold does not travel, and a restore recounts usage from the tree
    // (a snapshot's counters are not trusted), so the unlinked inode is not charged any more.
    const restored = InodeFs.restore(fs.snapshot());
    expect(restored.usage()).toEqual({ inodes: 1, bytes: 0 });
    expect(restored.countUsage()).toEqual({ inodes: 1, bytes: 0 });
    expect(restored.repairUsage().after).toEqual({ inodes: 1, bytes: 0 });
    expect(InodeFs.restore(restored.snapshot()).usage()).toEqual({ inodes: 1, bytes: 0 });
    const again = restored.version;
    restored.repairUsage(); // nothing to repair: no change
    expect(restored.version).toBe(again);
  });
});
