// Moving trees between the vault and the host (import, export) and inside the vault (cp -r), keeping
// modes, symlinks, hard links and mtimes. Symlinks are copied as links, never followed.
//
// Names are bytes on both sides: host paths are built as Buffers from each name's bytes (the
// engine's byte <-> name mapping), so a name that is not UTF-8 keeps its exact bytes both ways.
// Export writes only below its target: every name is checked (no '/', '.', '..', NUL), every
// directory is one it made itself (mkdir fails on anything already there), files are created with
// O_EXCL|O_NOFOLLOW and their mode and times set through the descriptor, so no symlink (one it
// made, or one already there) is ever followed.
import {
  chmodSync,
  closeSync,
  constants,
  fchmodSync,
  futimesSync,
  lstatSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  symlinkSync,
  linkSync,
  utimesSync,
  writeSync,
  lutimesSync,
} from 'node:fs';
import { join } from 'node:path';
import { bytesToName, nameToBytes, type InodeFs, type Kind } from '@vws/inode-fs';
import type { Progress } from './progress.js';

/** A host path (bytes) joined with one vault name's bytes. */
const hostJoin = (dir: Buffer, name: string): Buffer => Buffer.concat([dir, SLASH, nameToBytes(name)]);
const SLASH = Buffer.from('/');

/** A vault name that could leave the directory it is written into, or is none at all. */
function unsafeName(name: string): boolean {
  return name === '' || name === '.' || name === '..' || name.includes('/') || name.includes('\0');
}

export interface Entry {
  path: string;
  kind: Kind;
  size: number;
}

export const joinVault = (dir: string, name: string) => (dir === '/' ? `/${name}` : `${dir}/${name}`);

/** Every entry under dir (not dir itself), depth first, names sorted so output is stable. */
export function walk(fs: InodeFs, dir: string): Entry[] {
  const out: Entry[] = [];
  const visit = (d: string) => {
    const entries = fs.readdir(d, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    for (const e of entries) {
      const p = joinVault(d, e.name);
      out.push({ path: p, kind: e.kind, size: fs.lstat(p).size });
      if (e.kind === 'directory') visit(p);
    }
  };
  visit(dir);
  return out;
}

/** Counts host files first so the progress bar has a total. */
export function countHost(dir: string | Buffer): number {
  let n = 0;
  for (const e of readdirSync(dir, { withFileTypes: true, encoding: 'buffer' })) {
    n++;
    if (e.isDirectory()) n += countHost(Buffer.concat([Buffer.from(dir), SLASH, e.name]));
  }
  return n;
}

/** Copies a host directory into the vault at `to` (created). Returns files, directories, bytes. */
export function importHost(fs: InodeFs, hostDir: string, to: string, bar: Progress): { files: number; directories: number; symlinks: number; bytes: number } {
  const stats = { files: 0, directories: 0, symlinks: 0, bytes: 0 };
  const seen = new Map<string, string>(); // dev:ino of hard-linked host files -> first vault path
  const dirs: Array<[string, number, Date]> = [];
  const visit = (host: Buffer, vault: string) => {
    for (const e of readdirSync(host, { withFileTypes: true, encoding: 'buffer' })) {
      const name = bytesToName(e.name);
      const h = Buffer.concat([host, SLASH, e.name]);
      const v = joinVault(vault, name);
      const st = lstatSync(h, { bigint: true });
      bar.tick();
      if (st.isDirectory()) {
        fs.mkdir(v, { mode: Number(st.mode & 0o7777n) | 0o700 });
        stats.directories++;
        visit(h, v);
        dirs.push([v, Number(st.mode & 0o7777n), new Date(Number(st.mtimeNs / 1_000_000n))]);
      } else if (st.isSymbolicLink()) {
        fs.symlink(bytesToName(readlinkSync(h, { encoding: 'buffer' })), v);
        stats.symlinks++;
      } else if (st.isFile()) {
        const key = `${st.dev}:${st.ino}`;
        const first = st.nlink > 1n ? seen.get(key) : undefined;
        if (first) {
          fs.link(first, v);
          continue;
        }
        if (st.nlink > 1n) seen.set(key, v);
        const data = readFileSync(h);
        fs.writeFile(v, data, { mode: Number(st.mode & 0o7777n) });
        fs.chmod(v, Number(st.mode & 0o7777n));
        fs.utimes(v, st.atimeNs, st.mtimeNs);
        stats.files++;
        stats.bytes += data.length;
      }
      // Sockets, fifos and devices are skipped: they are not content.
    }
  };
  if (to !== '/') fs.mkdir(to, { recursive: true });
  visit(Buffer.from(hostDir), to);
  // Directory modes and times last: writing their entries above would have changed the mtimes.
  for (const [v, mode, mtime] of dirs) {
    fs.chmod(v, mode);
    const ns = BigInt(mtime.getTime()) * 1_000_000n;
    fs.utimes(v, ns, ns);
  }
  bar.stop();
  return stats;
}

/** Writes the vault tree under `from` into hostDir (which must exist and be empty or new). */
export function exportHost(fs: InodeFs, from: string, hostDir: string, bar: Progress): { files: number; directories: number; symlinks: number; bytes: number } {
  const stats = { files: 0, directories: 0, symlinks: 0, bytes: 0 };
  const seen = new Map<number, Buffer>(); // vault ino of hard-linked files -> first host path
  const dirs: Array<[Buffer, number, bigint]> = [];
  const visit = (vault: string, host: Buffer) => {
    for (const e of fs.readdir(vault, { withFileTypes: true })) {
      const v = joinVault(vault, e.name);
      if (unsafeName(e.name)) throw new Error(`refusing to export ${JSON.stringify(v)}: the name ${JSON.stringify(e.name)} could leave the target directory`);
      const h = hostJoin(host, e.name);
      const st = fs.lstat(v);
      bar.tick();
      if (e.kind === 'directory') {
        // Fails on anything already there (a symlink included): every directory written into is ours.
        mkdirSync(h, { mode: 0o700 });
        stats.directories++;
        visit(v, h);
        dirs.push([h, st.mode & 0o7777, st.mtimeNs]);
      } else if (e.kind === 'symlink') {
        symlinkSync(nameToBytes(fs.readlink(v)) as Buffer, h);
        const t = new Date(Number(st.mtimeNs / 1_000_000n));
        lutimesSync(h, t, t);
        stats.symlinks++;
      } else if (e.kind === 'file') {
        const first = st.nlink > 1 ? seen.get(st.ino) : undefined;
        if (first) {
          linkSync(first, h);
          continue;
        }
        if (st.nlink > 1) seen.set(st.ino, h);
        const data = fs.readFile(v);
        const fd = openSync(h, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o600);
        try {
          let off = 0;
          while (off < data.length) off += writeSync(fd, data, off, data.length - off);
          fchmodSync(fd, st.mode & 0o7777);
          const t = new Date(Number(st.mtimeNs / 1_000_000n));
          futimesSync(fd, t, t);
        } finally {
          closeSync(fd);
        }
        stats.files++;
        stats.bytes += data.length;
      }
    }
  };
  mkdirSync(hostDir, { recursive: true });
  visit(from, Buffer.from(hostDir));
  for (const [h, mode, mtimeNs] of dirs) {
    // Directories made above, in a tree whose every component is one of ours: no link on the way.
    if (!lstatSync(h).isDirectory()) throw new Error(`export target changed under us: ${h.toString()}`);
    chmodSync(h, mode);
    const t = new Date(Number(mtimeNs / 1_000_000n));
    utimesSync(h, t, t);
  }
  bar.stop();
  return stats;
}

/** cp inside the vault: a file, or with recursive a whole directory (links kept as links). */
export function copyWithin(fs: InodeFs, from: string, to: string, recursive: boolean): number {
  const st = fs.lstat(from);
  if (st.kind === 'directory') {
    if (!recursive) throw Object.assign(new Error(`${from} is a directory (use -r)`), { usage: true });
    fs.mkdir(to, { mode: st.mode & 0o7777 });
    let n = 1;
    for (const name of fs.readdir(from)) n += copyWithin(fs, joinVault(from, name), joinVault(to, name), true);
    return n;
  }
  if (st.kind === 'symlink') fs.symlink(fs.readlink(from), to);
  else {
    fs.writeFile(to, fs.readFile(from), { mode: st.mode & 0o7777 });
    fs.chmod(to, st.mode & 0o7777);
  }
  return 1;
}
