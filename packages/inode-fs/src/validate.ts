// Whole-state checks for a restored state. A checksum only proves the bytes are the ones written;
// a crafted (or buggy) writer can still describe a state no sequence of calls makes, and the engine
// trusts its invariants everywhere (paths, nlink, counters, inode allocation). So restore refuses
// anything impossible here, naming what is wrong, before the state is used.

import { SnapshotError } from './errors.js';
import { type Inode, S_IFBLK, S_IFCHR, S_IFDIR, S_IFIFO, S_IFLNK, S_IFMT, S_IFREG, S_IFSOCK } from './inode.js';
import { type InodeFs, MAX_INO, NAME_MAX, PATH_MAX, ROOT_INO, XATTR_SIZE_MAX, FILE_MAX, chargedBytes } from './inode-fs.js';
import { byteLength } from './names.js';

const KNOWN_TYPES = new Set([S_IFREG, S_IFDIR, S_IFLNK, S_IFIFO, S_IFSOCK, S_IFCHR, S_IFBLK]);

const bad = (what: string): never => {
  throw new SnapshotError(`snapshot holds an impossible state: ${what}`);
};

/** Why a directory entry name is not one Linux could hold, or undefined. */
export function badName(name: string): string | undefined {
  if (name.length === 0) return 'an empty name';
  if (name === '.' || name === '..') return `the name '${name}'`;
  if (name.includes('/')) return `a name with '/' ('${name.slice(0, 80)}')`;
  if (name.includes('\0')) return 'a name with a NUL byte';
  if (name.length > NAME_MAX / 3 && byteLength(name) > NAME_MAX) return `a name of ${byteLength(name)} bytes (the limit is ${NAME_MAX})`;
  return undefined;
}

/** Checks every invariant the engine relies on (the links index must be built); returns the usage the tree holds. */
export function checkState(fs: InodeFs): { usedBytes: number; usedInodes: number } {
  if (!Number.isSafeInteger(fs.nextIno) || fs.nextIno <= ROOT_INO || fs.nextIno > MAX_INO) bad(`next inode number ${fs.nextIno} (must be above every inode and at most ${MAX_INO})`);
  const root = fs.inodes.get(ROOT_INO);
  if (!root || !root.isDir) bad('no root directory');
  let usedBytes = 0;
  let usedInodes = 0;
  let dirs = 0;
  fs.inodes.forEach((inode) => {
    usedInodes++;
    if (inode.isDir) dirs++;
    usedBytes += checkInode(fs, inode);
  });
  // Every directory has one parent (checked above), so the directories a walk from the root does not
  // reach sit in a cycle or a detached tree; every other inode is named from some directory.
  let reached = 0;
  const stack = [root!];
  while (stack.length) {
    const dir = stack.pop()!;
    if (++reached > dirs) bad('a directory cycle');
    dir.entries!.forEach((child) => {
      const node = fs.inodes.get(child)!;
      if (node.isDir) stack.push(node);
    });
  }
  if (reached !== dirs) bad(`${dirs - reached} director${dirs - reached === 1 ? 'y' : 'ies'} not reachable from the root (a directory cycle or a detached tree)`);
  return { usedBytes, usedInodes };
}

/** One inode's own invariants; returns what it charges to the byte quota. */
function checkInode(fs: InodeFs, inode: Inode): number {
  const at = `inode ${inode.ino}`;
  if (!Number.isSafeInteger(inode.ino) || inode.ino < ROOT_INO || inode.ino >= fs.nextIno) bad(`${at} is not below the next inode number ${fs.nextIno}`);
  const type = inode.mode & S_IFMT;
  if (!KNOWN_TYPES.has(type)) bad(`${at} has an unknown file type in mode 0${inode.mode.toString(8)}`);
  if (inode.mode > 0o177777) bad(`${at} has mode bits beyond 0o177777`);
  if (type === S_IFREG && (!inode.content || inode.content.size > FILE_MAX)) bad(`${at} is a regular file without valid content`);
  if (type === S_IFLNK) {
    const t = inode.target;
    if (t === null || t.length === 0) bad(`${at} is a symlink with an empty target`);
    if (t!.includes('\0')) bad(`${at} is a symlink whose target holds a NUL byte`);
    if (byteLength(t!) >= PATH_MAX) bad(`${at} is a symlink whose target is ${PATH_MAX} bytes or more`);
  }
  if (inode.xattrs) {
    for (const [name, value] of inode.xattrs) {
      if (!name || name.includes('\0') || byteLength(name) > NAME_MAX) bad(`${at} has a bad extended attribute name`);
      if (value.length > XATTR_SIZE_MAX) bad(`${at} has an extended attribute over ${XATTR_SIZE_MAX} bytes`);
    }
  }
  const links = inode.links;
  if (inode.isDir) {
    let subdirs = 0;
    inode.entries!.forEach((child, name) => {
      const why = badName(name as string);
      if (why) bad(`${at} has an entry with ${why}`);
      const node = fs.inodes.get(child);
      if (!node) bad(`entry '${String(name)}' in ${at} names missing inode ${child}`);
      if (child === ROOT_INO) bad(`entry '${String(name)}' in ${at} names the root directory`);
      if (node!.isDir) subdirs++;
    });
    if (inode.ino === ROOT_INO) {
      if (links.length !== 1) bad('the root directory is linked from a directory');
    } else if (links.length !== 1) {
      bad(links.length === 0 ? `${at} is a directory no entry names` : `${at} is a hard-linked directory (${links.length} entries name it)`);
    }
    if (inode.nlink !== 2 + subdirs) bad(`${at} is a directory with nlink ${inode.nlink}, but ${2 + subdirs} links (2 + ${subdirs} subdirectories)`);
  } else {
    if (links.length === 0) bad(`${at} is not named by any directory entry`);
    if (inode.nlink !== links.length) bad(`${at} has nlink ${inode.nlink}, but ${links.length} entries name it`);
  }
  return chargedBytes(inode);
}
