// Sync mode for an InodeFilesystem (no FUSE here, or syncMode: true): a shadow directory kept between
// commands. Before a command, only what changed through the API since the last sync is written into
// it (the engine's diff between an O(1) fork taken at that sync and now). After a command, only
// entries whose host stat differs from what was recorded are read back, and only in directories that
// changed (inotify on Linux, see host-watch.ts; a stat walk of the whole tree elsewhere). The change
// report is the engine's own diff, as on the FUSE path.

import { closeSync, futimesSync, fchmodSync, linkSync, lstatSync, mkdirSync, openSync, readdirSync, readFileSync, readlinkSync, renameSync, rmSync, symlinkSync, writeSync, chmodSync, type BigIntStats } from 'node:fs';
import { FsError, bytesToName, type InodeFs, type DiffResult } from '@vws/inode-fs';
import { engineChanges, type Changes } from './changes.js';
import { canWatch, DirWatch } from './host-watch.js';
import { forget, hostPath, removeAtExit } from './shadow-dir.js';
import { baseOf, joinRel, kindOfStat, parentOf, racy, Recorded, recOf } from './shadow-record.js';
import type { ActiveMount } from './mounts.js';

/** A sync that could not be applied: the engine is as it was before it, and the shadow equal to the engine again. */
export class SyncError extends Error {
  constructor(
    message: string,
    readonly code: string,
    readonly path?: string,
  ) {
    super(message);
    this.name = 'SyncError';
  }
}

export type ScanStrategy = 'watch' | 'walk';

/** An InodeFilesystem, or anything else that holds an engine (the Mastra-free runner). */
export interface EngineHolder {
  readonly engine: InodeFs;
  /** Told where its tree is visible on the host (InodeFilesystem maps host paths under it). */
  attachHost?(hostPath: string | undefined): void;
}

const depth = (p: string) => (p === '' ? 0 : p.split('/').length);
const rel = (enginePath: string) => enginePath.slice(1);
const toSec = (ns: bigint) => Number(ns) / 1e9;
/** Bits open() may take away from a new file's mode (unknown: assume all, and always chmod). */
const umask = (() => {
  try {
    return process.umask();
  } catch {
    return 0o7777;
  }
})();

export class ShadowMount<F extends EngineHolder = EngineHolder> implements Omit<ActiveMount, 'filesystem'> {
  readonly mode = 'sync' as const;
  private readonly rec = new Recorded();
  private readonly watch: DirWatch | null;
  /** The engine as of the last sync: the shadow equals it, except for what commands changed since. */
  private base!: InodeFs;
  private destroyed = false;

  private constructor(
    readonly mountPath: string,
    readonly hostPath: string,
    readonly filesystem: F,
    readonly strategy: ScanStrategy,
  ) {
    this.watch = strategy === 'watch' ? new DirWatch(hostPath) : null;
  }

  /** Makes hostPath (emptied first) a shadow of the filesystem. */
  static create<F extends EngineHolder>(filesystem: F, mountPath: string, hostPath: string, strategy?: ScanStrategy): ShadowMount<F> {
    const env = process.env.VWS_SYNC_SCAN;
    const s = strategy ?? (env === 'walk' || env === 'watch' ? env : canWatch ? 'watch' : 'walk');
    const m = new ShadowMount(mountPath, hostPath, filesystem, s === 'watch' && canWatch ? 'watch' : 'walk');
    removeAtExit(hostPath);
    filesystem.attachHost?.(hostPath);
    m.rebuild();
    return m;
  }

  private get engine(): InodeFs {
    return this.filesystem.engine;
  }

  /**
   * Relative paths here are normalized already ('a/b', no '.' or '..'): plain concatenation (path.join
   * showed in profiles). A path with escaped bytes (names are bytes: @vws/inode-fs names.ts) is given
   * to the host as those bytes.
   */
  private abs(p: string): string | Buffer {
    return hostPath(p === '' ? this.hostPath : `${this.hostPath}/${p}`);
  }

  // ------------------------------------------------------------------ the ActiveMount contract

  async begin(): Promise<() => Promise<Changes>> {
    this.push();
    const before = this.engine.fork(); // O(1)
    return async () => {
      await this.sync();
      return engineChanges(before, this.engine, this.mountPath);
    };
  }

  /** Before a process starts: API changes made so far reach the shadow. */
  async settle(): Promise<void> {
    this.push();
  }

  /** Both ways: API changes into the shadow, then what processes changed into the engine. */
  async sync(): Promise<void> {
    const look = this.watch ? await this.watch.look() : { dirs: new Set<string>(), exact: false };
    if (this.destroyed) return;
    // From here on synchronous: no API write can slip between the two halves.
    this.push();
    this.pull(look.exact ? look.dirs : null);
  }

  async unmount(): Promise<void> {
    this.destroyed = true;
    this.filesystem.attachHost?.(undefined);
    this.watch?.close();
    rmSync(this.hostPath, { recursive: true, force: true });
    forget(this.hostPath);
  }

  // ------------------------------------------------------------------ engine -> shadow

  /** Writes into the shadow what changed in the engine since the last sync (synchronous: nothing interleaves). */
  push(): void {
    if (this.destroyed) return;
    const d = this.base.diff(this.engine);
    if (d.added.length || d.modified.length || d.deleted.length || d.renamed.length) this.applyDiff(d);
    if (d.renamed.length) this.reconcileWatches();
    this.base = this.engine.fork();
  }

  private applyDiff(d: DiffResult): void {
    // Renames first move each source aside (deepest first), so that swaps and moves into moved
    // directories work; old paths below a moved one are found through `moved`.
    const moved: Array<[string, string]> = [];
    const current = (old: string) => {
      for (const [o, t] of moved) if (old === o || old.startsWith(`${o}/`)) return t + old.slice(o.length);
      return old;
    };
    const renames = [...d.renamed].sort((a, b) => depth(rel(b.oldPath!)) - depth(rel(a.oldPath!)));
    const aside = new Map<string, string>();
    renames.forEach((c, i) => {
      const from = current(rel(c.oldPath!));
      const tmp = `.vws-mv-${process.pid}-${i}`;
      renameSync(this.abs(from), this.abs(tmp));
      this.rec.move(from, tmp);
      moved.push([rel(c.oldPath!), tmp]);
      aside.set(c.path, tmp);
    });
    for (const c of [...d.deleted].sort((a, b) => depth(rel(b.path)) - depth(rel(a.path)))) {
      const p = current(rel(c.path));
      rmSync(this.abs(p), { recursive: true, force: true });
      this.rec.drop(p);
    }
    // Then new names, parents before children.
    for (const c of [...d.renamed, ...d.added].sort((a, b) => depth(rel(a.path)) - depth(rel(b.path)))) {
      const p = rel(c.path);
      if (this.rec.get(p)) {
        rmSync(this.abs(p), { recursive: true, force: true });
        this.rec.drop(p);
      }
      const tmp = aside.get(c.path);
      if (tmp !== undefined) {
        renameSync(this.abs(tmp), this.abs(p));
        this.rec.move(tmp, p);
        this.rerecord(p);
      } else this.materialize(p, false);
    }
    for (const c of d.modified) {
      const p = rel(c.path);
      const es = this.engine.lstat(c.path);
      const r = this.rec.get(p);
      if (r && r.eino === es.ino && r.kind === 'file' && es.kind === 'file') {
        this.writeHostFile(p, es.mode, es.mtimeNs, es.atimeNs, this.engine.readFile(c.path), false);
        for (const q of this.rec.linksOf(r.ino, p)) this.rerecord(q);
        this.rerecord(p);
      } else if (r && r.eino === es.ino && r.kind === 'dir' && es.kind === 'directory') {
        chmodSync(this.abs(p), es.mode & 0o7777);
        this.rerecord(p);
      } else {
        rmSync(this.abs(p), { recursive: true, force: true });
        this.rec.drop(p);
        this.materialize(p, true);
      }
    }
  }

  /** Makes the shadow entry at p equal to the engine's (its subtree too when `deep`), and records it. */
  private materialize(p: string, deep: boolean): void {
    const path = `/${p}`;
    const es = this.engine.lstat(path);
    const abs = this.abs(p);
    if (es.kind === 'directory') {
      mkdirSync(abs, { mode: es.mode & 0o7777 });
      chmodSync(abs, es.mode & 0o7777); // the umask applied to mkdir
      this.rerecord(p, es.ino);
      if (deep) for (const name of this.engine.readdir(path)) this.materialize(joinRel(p, name), true);
      return;
    }
    if (es.kind === 'symlink') {
      symlinkSync(hostPath(this.engine.readlink(path)), abs);
    } else if (es.kind === 'file') {
      // A hard link of an inode already in the shadow is a link there too.
      const other = es.nlink > 1 ? this.engine.pathsOf(es.ino).map(rel).find((q) => q !== p && this.rec.get(q)?.eino === es.ino) : undefined;
      if (other !== undefined) {
        linkSync(this.abs(other), abs);
        for (const q of this.rec.linksOf(this.rec.get(other)!.ino, p)) this.rerecord(q);
      } else this.writeHostFile(p, es.mode, es.mtimeNs, es.atimeNs, this.engine.readFile(path), true);
    } else {
      return; // devices, FIFOs and sockets are not copied out
    }
    this.rerecord(p, es.ino);
  }

  private writeHostFile(p: string, mode: number, mtimeNs: bigint, atimeNs: bigint, data: Uint8Array, create: boolean): void {
    const fd = openSync(this.abs(p), create ? 'wx' : 'w', mode & 0o7777);
    try {
      for (let off = 0; off < data.length; ) off += writeSync(fd, data, off, data.length - off);
      // A new file has its mode already unless the umask took bits away.
      if (!create || (mode & umask) !== 0) fchmodSync(fd, mode & 0o7777);
      futimesSync(fd, toSec(atimeNs), toSec(mtimeNs));
    } finally {
      closeSync(fd);
    }
  }

  private readonly isDirAt = (p: string, ino: bigint): boolean => {
    const r = this.rec.get(p);
    return r?.kind === 'dir' && r.ino === ino;
  };

  /** After moves: every recorded directory watched under its new name, none under an old one. */
  private reconcileWatches(): void {
    if (!this.watch) return;
    for (const [p, r] of this.rec.entries) if (r.kind === 'dir') this.watch.ensure(p, r.ino);
    this.watch.prune(this.isDirAt);
  }

  /** Records the host's current stat of p (keeping its engine inode unless given). */
  private rerecord(p: string, eino?: number): void {
    const st = lstatSync(this.abs(p), { bigint: true });
    this.rec.set(p, recOf(st, eino ?? this.rec.get(p)?.eino ?? 0));
    if (st.isDirectory()) this.watch?.ensure(p, st.ino);
  }

  /** Empties the shadow and writes the whole engine tree into it (mount, and after a failed sync). */
  rebuild(): void {
    this.watch?.close();
    rmSync(this.hostPath, { recursive: true, force: true });
    mkdirSync(this.hostPath, { recursive: true, mode: 0o700 });
    this.rec.clear();
    this.base = this.engine.fork();
    const rootSt = lstatSync(this.hostPath, { bigint: true });
    this.rec.set('', recOf(rootSt, this.engine.rootIno));
    this.watch?.ensure('', rootSt.ino);
    for (const name of this.engine.readdir('/')) this.materialize(name, true);
  }

  // ------------------------------------------------------------------ shadow -> engine

  /**
   * Applies to the engine what changed in the shadow: in `dirs` (from the watcher), or everywhere
   * (null). All or nothing: on an engine error (a quota) the engine goes back to where it was and
   * the shadow is rebuilt from it, and a SyncError says what failed.
   */
  pull(dirs: Set<string> | null): void {
    const undo = this.engine.fork();
    this.unlinked.clear();
    try {
      if (dirs === null) this.scanDir('', true, new Set());
      else {
        const visited = new Set<string>();
        for (const d of [...dirs].sort((a, b) => depth(a) - depth(b))) {
          if (visited.has(d) || this.rec.get(d)?.kind !== 'dir') continue;
          this.scanDir(d, false, visited);
        }
      }
      this.settleLinks();
      this.watch?.prune(this.isDirAt);
      this.base = this.engine.fork();
    } catch (e) {
      this.engine.reset(undo);
      this.rebuild();
      const fe = e instanceof FsError ? e : undefined;
      const what = fe?.code === 'ENOSPC' ? `the command wrote past the workspace quota (${JSON.stringify(this.engine.quota)})` : (e as Error).message;
      throw new SyncError(`sync mode: ${what}${fe?.path ? ` at ${fe.path}` : ''}; the workspace is as it was before the command`, fe?.code ?? 'EIO', fe?.path);
    }
  }

  private scanDir(dir: string, full: boolean, visited: Set<string>): void {
    visited.add(dir);
    let names: string[];
    try {
      names = readdirSync(this.abs(dir), { encoding: 'buffer' }).map(bytesToName);
    } catch {
      return; // gone: its parent's scan removes it
    }
    const present = new Set(names);
    for (const name of [...this.rec.children(dir)]) if (!present.has(name)) this.remove(joinRel(dir, name));
    for (const name of names) this.check(joinRel(dir, name), full, visited);
  }

  private remove(p: string): void {
    this.engine.rm(`/${p}`, { recursive: true, force: true });
    this.rec.drop(p);
  }

  private check(p: string, full: boolean, visited: Set<string>): void {
    let st: BigIntStats;
    try {
      st = lstatSync(this.abs(p), { bigint: true });
    } catch {
      if (this.rec.get(p)) this.remove(p);
      return;
    }
    const kind = kindOfStat(st);
    let r = this.rec.get(p);
    // Another directory at this name (rename over, rm and mkdir) is a new one; a file replaced by
    // another inode too (so that hard links to the old one keep the old content).
    if (r && (r.kind !== kind || ((kind === 'dir' || kind === 'file') && (r.ino !== st.ino || r.btime !== st.birthtimeNs)))) {
      this.remove(p);
      r = undefined;
    }
    const path = `/${p}`;
    if (!r) {
      this.create(p, st);
      if (kind === 'dir') this.scanDir(p, true, visited);
      return;
    }
    if (kind === 'dir') {
      if ((r.mode & 0o7777) !== (Number(st.mode) & 0o7777)) this.engine.chmod(path, Number(st.mode) & 0o7777);
      this.rec.set(p, recOf(st, r.eino));
      if (full) this.scanDir(p, true, visited);
      return;
    }
    if (kind === 'link') {
      if (r.size !== st.size || r.mtime !== st.mtimeNs || r.ino !== st.ino) {
        this.remove(p);
        this.create(p, st);
      }
      return;
    }
    if (kind !== 'file') return;
    let content: Buffer | undefined;
    if (r.size !== st.size || r.mtime !== st.mtimeNs) content = readFileSync(this.abs(p));
    else if (racy(r)) {
      const now = readFileSync(this.abs(p));
      if (Buffer.compare(now, this.engine.readFile(path)) !== 0) content = now;
    }
    if (content) {
      this.engine.writeFile(path, content);
      this.engine.setattr(r.eino, { mode: Number(st.mode) & 0o7777, mtimeNs: st.mtimeNs });
    } else if ((r.mode & 0o7777) !== (Number(st.mode) & 0o7777)) this.engine.chmod(path, Number(st.mode) & 0o7777);
    else if (r.ctime === st.ctimeNs && !racy(r)) return;
    this.rec.set(p, recOf(st, r.eino));
    // Other names of the same host inode changed with it (the engine's too: they share its inode).
    for (const q of this.rec.linksOf(st.ino, p)) this.rec.set(q, recOf(st, this.rec.get(q)!.eino));
  }

  private create(p: string, st: BigIntStats): void {
    const path = `/${p}`;
    const kind = kindOfStat(st);
    const mode = Number(st.mode) & 0o7777;
    if (kind === 'dir') {
      this.engine.mkdir(path, { mode });
      const s = this.engine.lstat(path);
      if ((s.mode & 0o7777) !== mode) this.engine.chmod(path, mode);
      this.rec.set(p, recOf(st, s.ino));
      this.watch?.ensure(p, st.ino); // before its entries are read
      return;
    }
    if (kind === 'link') {
      this.engine.symlink(bytesToName(readlinkSync(this.abs(p), { encoding: 'buffer' })), path);
      this.rec.set(p, recOf(st, this.engine.inoOf(path, false)));
      return;
    }
    if (kind !== 'file') return; // FIFOs, sockets, devices stay on the host only
    // A second name of a host inode already recorded: a hard link in the engine too.
    if (st.nlink > 1n) {
      if (!this.rec.linksOf(st.ino, p).length) {
        // Its other names may come later in this scan, or lie outside the shadow: decided at the end.
        const names = this.unlinked.get(st.ino) ?? [];
        names.push([p, st]);
        this.unlinked.set(st.ino, names);
        return;
      }
      for (const q of this.rec.linksOf(st.ino, p)) {
        const other = this.rec.get(q)!;
        if (!this.engine.exists(`/${q}`) || this.engine.inoOf(`/${q}`, false) !== other.eino) continue;
        this.engine.link(`/${q}`, path);
        if (other.size !== st.size || other.mtime !== st.mtimeNs) {
          this.engine.writeFile(path, readFileSync(this.abs(p)));
          this.engine.setattr(other.eino, { mtimeNs: st.mtimeNs });
        }
        if ((other.mode & 0o7777) !== mode) this.engine.setattr(other.eino, { mode });
        this.rec.set(p, recOf(st, other.eino));
        for (const o of this.rec.linksOf(st.ino, p)) this.rec.set(o, recOf(st, this.rec.get(o)!.eino));
        return;
      }
    }
    this.createFile(p, st);
  }

  private createFile(p: string, st: BigIntStats): void {
    const path = `/${p}`;
    this.engine.writeFile(path, readFileSync(this.abs(p)));
    const s = this.engine.setattr(this.engine.inoOf(path, false), { mode: Number(st.mode) & 0o7777, mtimeNs: st.mtimeNs });
    this.rec.set(p, recOf(st, s.ino));
  }

  /** New names of multiply-linked host files, by host inode, waiting for the end of a scan (settleLinks). */
  private readonly unlinked = new Map<bigint, Array<[string, BigIntStats]>>();

  /**
   * New hard links seen in this scan: when all of an inode's names are in the shadow it is one file
   * with links in the engine too; when some name lies outside (`ln /host/file here`), the host file's
   * content is not the workspace's to take: those names stay on the host only, as devices do.
   */
  private settleLinks(): void {
    for (const names of this.unlinked.values()) {
      const [first, st] = names[0]!;
      if (names.length < Number(st.nlink)) continue;
      this.createFile(first, st);
      for (const [p, s] of names.slice(1)) this.create(p, s);
    }
    this.unlinked.clear();
  }
}

export { baseOf, parentOf };
