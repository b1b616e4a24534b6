// InodeFilesystem: every WorkspaceFilesystem member over one InodeFs, plus checkpoints, forks and
// diffs backed by the engine. '/' is the filesystem's own root; relative paths resolve against it.

import {
  FilesystemError,
  DirectoryNotFoundError,
  FileExistsError,
  FileNotFoundError,
  IsDirectoryError,
  MastraFilesystem,
  NotDirectoryError,
  PermissionError,
  StaleFileError,
  type FileContent,
  type FileEntry,
  type FileStat,
  type FilesystemGrepOptions,
  type FilesystemGrepResult,
  type FilesystemInfo,
  type ListOptions,
  type ReadOptions,
  type RemoveOptions,
  type CopyOptions,
  type WalkEntry,
  type WalkOptions,
  type WriteOptions,
} from '@mastra/core/workspace';
import { FsError, InodeFs, NAME_MAX, isCanonicalName, nameToBytes, type DiffResult } from '@vws/inode-fs';
import { mapped } from './errors.js';
import { grepEngine } from './grep.js';
import { withChunks } from './lazy.js';
import { mimeTypeOf } from './mime.js';
import { parseOptions, type InodeFilesystemOptions } from './options.js';

type ProviderStatus = 'pending' | 'initializing' | 'ready' | 'starting' | 'running' | 'stopping' | 'stopped' | 'destroying' | 'destroyed' | 'error';

export interface CheckpointInfo {
  name: string;
  createdAt: Date;
  files: number;
  bytes: number;
}

const dirname = (p: string) => {
  const s = p.replace(/\/+$/, '');
  const i = s.lastIndexOf('/');
  return i <= 0 ? '/' : s.slice(0, i);
};
const basename = (p: string) => p.replace(/\/+$/, '').split('/').pop() || '/';

/**
 * '/a/b' for any spelling of a path ('a/b', './a/b', '/a/b/'). The path is used as given: spaces,
 * tabs and newlines are parts of names (as on Linux and in Mastra's LocalFilesystem), never trimmed.
 */
export function normalize(path: string): string {
  if (path === '' || path === '.' || path === './') return '/';
  const abs = path.startsWith('/') ? path : `/${path}`;
  const out = abs.replace(/\/\.(?=\/|$)/g, '').replace(/\/+/g, '/');
  if (out === '') return '/';
  return out.length > 1 ? out.replace(/\/$/, '') : out;
}

/** A path argument that is not a string gets Mastra's typed error, not a TypeError from deep inside. */
function checkPath(path: unknown, argument = 'path'): asserts path is string {
  if (typeof path === 'string') return;
  const shown = path === null ? 'null' : Array.isArray(path) ? 'an array' : typeof path === 'object' ? 'an object' : `${typeof path} ${String(path)}`;
  throw new FilesystemError(`${argument} must be a string, got ${shown}`, 'EINVAL', String(path));
}

export class InodeFilesystem extends MastraFilesystem {
  readonly id: string;
  readonly name = 'InodeFilesystem';
  readonly provider = 'vws-inode';
  readonly readOnly: boolean;
  readonly displayName?: string;
  readonly description?: string;
  status: ProviderStatus = 'pending';
  /** The engine: shared with the FUSE mount and the sandbox so that all see one tree. */
  readonly engine: InodeFs;
  private readonly instructions?: InodeFilesystemOptions['instructions'];
  private readonly checkpoints = new Map<string, { state: InodeFs; createdAt: Date }>();
  /** Where this tree is visible on the host (the sandbox that mounts it says so), if anywhere. */
  private host: string | undefined;

  constructor(options: InodeFilesystemOptions = {}) {
    const o = parseOptions(options);
    super({ name: 'InodeFilesystem', onInit: o.onInit as never, onDestroy: o.onDestroy as never, textExtensions: o.textExtensions });
    this.id = o.id ?? `vws-inode-${Math.random().toString(36).slice(2, 10)}`;
    this.readOnly = o.readOnly ?? false;
    this.displayName = o.displayName;
    this.description = o.description;
    this.instructions = o.instructions;
    this.engine = o.fs ?? new InodeFs({ quota: o.quota, clock: o.clock, uid: o.uid, gid: o.gid });
    if (o.files) this.seed(o.files);
  }

  private seed(files: Record<string, string | Uint8Array>): void {
    for (const [path, content] of Object.entries(files)) {
      const p = this.enginePath(path);
      this.engine.mkdir(dirname(p), { recursive: true });
      this.engine.writeFile(p, content);
    }
  }

  // ------------------------------------------------------------------ host path

  /**
   * @internal Set by the sandbox that mounts this filesystem (its root's host path), cleared on
   * unmount. While set, host paths under it name the same files as workspace paths (as for
   * Mastra's LocalFilesystem), so the paths a command sees and the paths the API takes agree.
   */
  attachHost(hostPath: string | undefined): void {
    this.host = hostPath;
  }

  /** The host directory where commands see this tree, while a sandbox has it mounted. */
  get basePath(): string | undefined {
    return this.host;
  }

  /** The host path of a workspace path, while mounted (Mastra's LSP tools read files there). */
  resolveAbsolutePath(path: string): string | undefined {
    if (!this.host) return undefined;
    const p = this.enginePath(path);
    return p === '/' ? this.host : `${this.host}${p}`;
  }

  /** A workspace path in the engine's terms: host paths under the mount lose their prefix. */
  private enginePath(path: string, argument?: string): string {
    checkPath(path, argument);
    const host = this.host;
    if (host && path.startsWith(host) && (path.length === host.length || path[host.length] === '/')) return normalize(path.slice(host.length));
    return normalize(path);
  }

  // ------------------------------------------------------------------ lifecycle and info

  override async init(): Promise<void> {}
  override async destroy(): Promise<void> {}

  getInfo(): FilesystemInfo {
    const usage = this.engine.usage();
    return {
      id: this.id,
      name: this.name,
      provider: this.provider,
      readOnly: this.readOnly,
      status: this.status,
      error: this.error,
      metadata: { inodes: usage.inodes, bytes: usage.bytes, quota: { ...this.engine.quota }, checkpoints: [...this.checkpoints.keys()] },
    };
  }

  /** As Mastra's providers: a string replaces the default, a function derives from it. */
  getInstructions(opts?: { requestContext?: unknown }): string {
    // Whether commands see these files depends on the sandbox (which says so in its own
    // instructions), so nothing is claimed about commands here.
    const defaults = 'In-memory workspace filesystem (vws). Paths are relative to the workspace root "/"; ".." cannot leave it.' + (this.readOnly ? ' It is read-only.' : '');
    if (typeof this.instructions === 'string') return this.instructions;
    if (this.instructions) return this.instructions({ defaultInstructions: defaults, requestContext: opts?.requestContext });
    return defaults;
  }

  getMountConfig(): { type: string; [key: string]: unknown } {
    return { type: 'vws-inode', id: this.id };
  }

  private assertWritable(path: string, operation: string): void {
    if (this.readOnly) throw new PermissionError(path, `${operation} (the filesystem is read-only)`);
  }

  // ------------------------------------------------------------------ files

  async readFile(path: string, options?: ReadOptions): Promise<string | Buffer> {
    await this.ensureReady();
    const p = this.enginePath(path);
    const st = mapped(path, () => this.engine.stat(p));
    if (st.isDirectory()) throw new IsDirectoryError(path);
    const bytes = await withChunks(this.engine, () => mapped(path, () => this.engine.readFile(p)));
    const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    return options?.encoding ? buf.toString(options.encoding) : buf;
  }

  async writeFile(path: string, content: FileContent, options?: WriteOptions): Promise<void> {
    await this.ensureReady();
    this.assertWritable(path, 'writeFile');
    const p = this.enginePath(path);
    if (options?.recursive === false) {
      const parent = dirname(p);
      const st = this.statOrUndefined(parent);
      if (!st) throw new DirectoryNotFoundError(dirname(path));
      if (!st.isDirectory()) throw new NotDirectoryError(dirname(path));
    }
    if (options?.expectedMtime) {
      const st = this.statOrUndefined(p);
      if (st && Math.floor(st.mtimeMs) !== options.expectedMtime.getTime()) {
        throw new StaleFileError(path, options.expectedMtime, new Date(Math.floor(st.mtimeMs)));
      }
    }
    const data = typeof content === 'string' ? Buffer.from(content) : new Uint8Array(content.buffer, content.byteOffset, content.byteLength);
    const write = () => this.engine.writeFile(p, data, { flag: options?.overwrite === false ? 'wx' : 'w' });
    // The parent usually exists: write first, make the parents only when it was missing (one engine
    // call instead of two: a call may cross to the FUSE serving thread).
    await withChunks(this.engine, () => mapped(path, () => this.withParents(p, path, options?.recursive !== false, write, { bytes: data.length, inodes: 1 }), 'file', 'writeFile'));
  }

  /**
   * Runs `fn`; if it failed for a missing parent and `parents`, makes the parents and runs it again.
   * A refusal then takes the directories it made away again: a refused call changes nothing.
   */
  private withParents<T>(p: string, path: string, parents: boolean, fn: () => T, need?: { bytes: number; inodes: number }): T {
    try {
      return fn();
    } catch (e) {
      if (!parents || !(e instanceof FsError) || e.code !== 'ENOENT') throw e;
      return this.madeParents(p, path, fn, need);
    }
  }

  /**
   * Makes the parents of `p`, runs fn, and removes the parents it made if fn throws. What the call
   * will need (`need`: bytes and inodes beyond the parents) and every new name are checked before
   * the first parent is made, so the usual refusals (a long or unrepresentable name, a quota) leave
   * the tree exactly as it was, its times and inode counter included.
   */
  private madeParents<T>(p: string, path: string, fn: () => T, need: { bytes: number; inodes: number } = { bytes: 0, inodes: 0 }): T {
    const made = this.firstMissing(dirname(p));
    if (made) this.precheck(p, made, need);
    mapped(path, () => this.engine.mkdir(dirname(p), { recursive: true }), 'directory', 'writeFile');
    try {
      return fn();
    } catch (e) {
      if (made) this.engine.rm(made, { recursive: true, force: true });
      throw e;
    }
  }

  /** Refuses before anything is made: names from the first missing parent down, then the quota. */
  private precheck(p: string, made: string, need: { bytes: number; inodes: number }): void {
    const segs = p.split('/').filter(Boolean);
    const fresh = segs.slice(made.split('/').filter(Boolean).length - 1);
    for (const name of fresh) {
      if (name === '..' || name === '.') continue;
      if (name.includes('\0') || !isCanonicalName(name)) throw new FsError('EINVAL', 'open', p, 'a name that stands for no byte string (NUL or a lone surrogate)');
      if (nameToBytes(name).length > NAME_MAX) throw new FsError('ENAMETOOLONG', 'open', p, `a name is longer than ${NAME_MAX} bytes`);
    }
    const used = this.engine.usage();
    const quota = this.engine.quota;
    const inodes = fresh.length - 1 + need.inodes;
    if (used.inodes + inodes > quota.inodes) throw new FsError('ENOSPC', 'open', p, `inode quota of ${quota.inodes} reached`);
    if (used.bytes + need.bytes > quota.bytes) throw new FsError('ENOSPC', 'write', p, `byte quota of ${quota.bytes} reached`);
  }

  /** The highest missing directory on the way to `dir` (what mkdir -p would make first), if any. */
  private firstMissing(dir: string): string | undefined {
    if (this.lstatOrUndefined(dir)) return undefined;
    let d = dir;
    while (dirname(d) !== d && !this.lstatOrUndefined(dirname(d))) d = dirname(d);
    return d;
  }

  async appendFile(path: string, content: FileContent): Promise<void> {
    await this.ensureReady();
    this.assertWritable(path, 'appendFile');
    const p = this.enginePath(path);
    const data = typeof content === 'string' ? Buffer.from(content) : new Uint8Array(content.buffer, content.byteOffset, content.byteLength);
    await withChunks(this.engine, () => mapped(path, () => this.withParents(p, path, true, () => this.engine.appendFile(p, data), { bytes: data.length, inodes: 1 })));
  }

  async deleteFile(path: string, options?: RemoveOptions): Promise<void> {
    await this.ensureReady();
    this.assertWritable(path, 'deleteFile');
    const p = this.enginePath(path);
    const st = this.lstatOrUndefined(p);
    if (!st) {
      if (options?.force) return;
      throw new FileNotFoundError(path);
    }
    if (st.isDirectory()) throw new IsDirectoryError(path);
    mapped(path, () => this.engine.unlink(p), 'file', 'deleteFile');
  }

  async copyFile(src: string, dest: string, options?: CopyOptions): Promise<void> {
    await this.ensureReady();
    this.assertWritable(dest, 'copyFile');
    const s = this.enginePath(src);
    const d = this.enginePath(dest);
    const st = this.statOrUndefined(s);
    if (!st) throw new FileNotFoundError(src);
    if (st.isDirectory()) {
      if (!options?.recursive) throw new IsDirectoryError(src);
      return withChunks(this.engine, () => mapped(dest, () => this.copyTreeAtomic(s, d, options?.overwrite !== false)), s);
    }
    if (options?.overwrite === false && this.engine.exists(d)) throw new FileExistsError(dest);
    await withChunks(this.engine, () => mapped(dest, () => this.madeParents(d, dest, () => this.copyOne(s, d), { bytes: st.size, inodes: 1 })));
  }

  /**
   * A tree copy that is refused whole: the quota is checked against everything the copy would add
   * before anything is written (ignoring what overwrites would free: an estimate from above), and
   * a copy into a new directory that fails anyway (a file in the way, a race) is taken away again.
   */
  private copyTreeAtomic(s: string, d: string, overwrite: boolean): void {
    if (d === s || d.startsWith(`${s}/`)) throw new FsError('EINVAL', 'copy', d, 'cannot copy a directory into itself');
    const need = this.treeSize(s);
    const used = this.engine.usage();
    const quota = this.engine.quota;
    if (used.inodes + need.inodes > quota.inodes) throw new FsError('ENOSPC', 'copy', d, `the copy needs ${need.inodes} inodes; ${quota.inodes - used.inodes} of the inode quota are free`);
    if (used.bytes + need.bytes > quota.bytes) throw new FsError('ENOSPC', 'copy', d, `the copy needs ${need.bytes} bytes; ${quota.bytes - used.bytes} of the byte quota are free`);
    const made = this.firstMissing(d);
    try {
      this.copyTree(s, d, overwrite);
    } catch (e) {
      if (made) this.engine.rm(made, { recursive: true, force: true });
      throw e;
    }
  }

  /** Bytes and inodes a copy of the tree at `s` adds at most. */
  private treeSize(s: string): { bytes: number; inodes: number } {
    let bytes = 0;
    let inodes = 1;
    const stack = [s];
    while (stack.length) {
      const dir = stack.pop()!;
      for (const e of this.engine.readdir(dir, { withFileTypes: true })) {
        const full = `${dir === '/' ? '' : dir}/${e.name}`;
        inodes++;
        if (e.kind === 'directory') stack.push(full);
        else bytes += this.engine.lstat(full).size;
      }
    }
    return { bytes, inodes };
  }

  private copyOne(s: string, d: string): void {
    const st = this.engine.stat(s);
    this.engine.writeFile(d, this.engine.readFile(s));
    this.engine.chmod(d, st.mode & 0o7777);
  }

  private copyTree(s: string, d: string, overwrite: boolean): void {
    if (d === s || d.startsWith(`${s}/`)) throw new FsError('EINVAL', 'copy', d, 'cannot copy a directory into itself');
    this.engine.mkdir(d, { recursive: true });
    for (const e of this.engine.readdir(s, { withFileTypes: true })) {
      const from = `${s === '/' ? '' : s}/${e.name}`;
      const to = `${d === '/' ? '' : d}/${e.name}`;
      if (e.kind === 'directory') this.copyTree(from, to, overwrite);
      else if (e.kind === 'symlink') {
        if (!this.engine.exists(to) || overwrite) {
          this.engine.rm(to, { force: true });
          this.engine.symlink(this.engine.readlink(from), to);
        }
      } else if (overwrite || !this.engine.exists(to)) this.copyOne(from, to);
    }
  }

  async moveFile(src: string, dest: string, options?: CopyOptions): Promise<void> {
    await this.ensureReady();
    this.assertWritable(dest, 'moveFile');
    const s = this.enginePath(src);
    const d = this.enginePath(dest);
    if (!this.lstatOrUndefined(s)) throw new FileNotFoundError(src);
    if (options?.overwrite === false && this.lstatOrUndefined(d)) throw new FileExistsError(dest);
    mapped(dest, () => this.madeParents(d, dest, () => this.engine.rename(s, d)));
  }

  // ------------------------------------------------------------------ directories

  async mkdir(path: string, options?: { recursive?: boolean }): Promise<void> {
    await this.ensureReady();
    this.assertWritable(path, 'mkdir');
    const p = this.enginePath(path);
    const st = this.statOrUndefined(p);
    if (st) {
      if (!st.isDirectory()) throw new FileExistsError(path);
      return;
    }
    if (options?.recursive === false && !this.statOrUndefined(dirname(p))) throw new DirectoryNotFoundError(dirname(path));
    mapped(path, () => this.engine.mkdir(p, { recursive: options?.recursive !== false }), 'directory', 'mkdir');
  }

  async rmdir(path: string, options?: RemoveOptions): Promise<void> {
    await this.ensureReady();
    this.assertWritable(path, 'rmdir');
    const p = this.enginePath(path);
    if (p === '/') throw new PermissionError(path, 'rmdir (the workspace root cannot be removed)');
    const st = this.lstatOrUndefined(p);
    if (!st) {
      if (options?.force) return;
      throw new DirectoryNotFoundError(path);
    }
    if (!st.isDirectory()) throw new NotDirectoryError(path);
    mapped(path, () => (options?.recursive ? this.engine.rm(p, { recursive: true }) : this.engine.rmdir(p)), 'directory', 'rmdir');
  }

  async readdir(path: string, options?: ListOptions): Promise<FileEntry[]> {
    await this.ensureReady();
    const p = this.enginePath(path);
    const st = this.statOrUndefined(p);
    if (!st) throw new DirectoryNotFoundError(path);
    if (!st.isDirectory()) throw new NotDirectoryError(path);
    const exts = options?.extension === undefined ? undefined : (Array.isArray(options.extension) ? options.extension : [options.extension]).map((e) => (e.startsWith('.') ? e : `.${e}`));
    const out: FileEntry[] = [];
    const visit = (dir: string, prefix: string, depth: number) => {
      for (const e of this.engine.readdir(dir, { withFileTypes: true })) {
        const full = `${dir === '/' ? '' : dir}/${e.name}`;
        const entry = this.entryOf(full, e.name, e.kind);
        const isFile = entry.type === 'file';
        if (!exts || !isFile || exts.some((x) => e.name.endsWith(x))) out.push({ ...entry, name: prefix + e.name });
        if (options?.recursive && entry.type === 'directory' && !entry.isSymlink && depth > 0) visit(full, `${prefix}${e.name}/`, depth - 1);
      }
    };
    visit(p, '', (options?.maxDepth ?? 100) - 1);
    return out;
  }

  /** One listing entry; a symlink reports its target's type. */
  private entryOf(full: string, name: string, kind: string): FileEntry {
    if (kind === 'symlink') {
      const target = this.engine.readlink(full);
      const resolved = this.statOrUndefined(full);
      return { name, type: resolved?.isDirectory() ? 'directory' : 'file', isSymlink: true, symlinkTarget: target };
    }
    if (kind === 'directory') return { name, type: 'directory' };
    return { name, type: 'file', size: this.engine.lstat(full).size };
  }

  async walk(path: string, options?: WalkOptions): Promise<WalkEntry[]> {
    await this.ensureReady();
    const p = this.enginePath(path);
    const st = this.statOrUndefined(p);
    if (!st) throw new DirectoryNotFoundError(path);
    if (!st.isDirectory()) throw new NotDirectoryError(path);
    // Entry paths are relative to the walked directory, as Mastra's tree formatter expects.
    const out: WalkEntry[] = [];
    const stack: Array<[string, string, number]> = [[p, '', options?.maxDepth ?? Infinity]];
    while (stack.length) {
      const [dir, rel, depth] = stack.pop()!;
      for (const e of this.engine.readdir(dir, { withFileTypes: true })) {
        if (!options?.includeHidden && e.name.startsWith('.')) continue;
        const full = `${dir === '/' ? '' : dir}/${e.name}`;
        const entry = this.entryOf(full, e.name, e.kind);
        out.push({ ...entry, path: rel + e.name });
        if (entry.type === 'directory' && !entry.isSymlink && depth > 1) stack.push([full, `${rel}${e.name}/`, depth - 1]);
      }
    }
    return out.sort((a, b) => (a.path < b.path ? -1 : 1));
  }

  async grep(options: FilesystemGrepOptions): Promise<FilesystemGrepResult[]> {
    await this.ensureReady();
    const p = this.enginePath(options.path || '/');
    return withChunks(this.engine, () => mapped(options.path, () => grepEngine(this.engine, { ...options, path: p }, (name) => this.isTextFile(name)), 'directory'), p);
  }

  // ------------------------------------------------------------------ paths

  async exists(path: string): Promise<boolean> {
    await this.ensureReady();
    try {
      return this.engine.exists(this.enginePath(path));
    } catch {
      return false;
    }
  }

  async stat(path: string): Promise<FileStat> {
    await this.ensureReady();
    const p = this.enginePath(path);
    const st = mapped(path, () => this.engine.stat(p));
    // As LocalFilesystem: the path relative to the root ('' for the root), a MIME type for files.
    const file = !st.isDirectory();
    return {
      name: basename(p),
      path: p.slice(1),
      type: file ? 'file' : 'directory',
      size: st.size,
      createdAt: new Date(Math.floor(st.birthtimeMs)),
      modifiedAt: new Date(Math.floor(st.mtimeMs)),
      ...(file ? { mimeType: mimeTypeOf(p) } : {}),
    };
  }

  async realpath(path: string): Promise<string> {
    await this.ensureReady();
    return mapped(path, () => this.engine.realpath(this.enginePath(path)));
  }

  private statOrUndefined(p: string) {
    try {
      return this.engine.stat(p);
    } catch (e) {
      if (e instanceof FsError) return undefined;
      throw e;
    }
  }

  private lstatOrUndefined(p: string) {
    try {
      return this.engine.lstat(p);
    } catch (e) {
      if (e instanceof FsError) return undefined;
      throw e;
    }
  }

  // ------------------------------------------------------------------ history: checkpoints, forks, diffs

  /** Saves the current tree under a name, in O(1). Saving an existing name replaces it. */
  checkpoint(name: string): CheckpointInfo {
    if (!name || typeof name !== 'string') throw new TypeError('checkpoint name must be a non-empty string');
    const state = this.engine.fork();
    const createdAt = new Date();
    this.checkpoints.set(name, { state, createdAt });
    return this.describe(name, state, createdAt);
  }

  /** Makes the tree equal to a checkpoint again, in place (a FUSE mount of it follows). */
  restore(name: string): void {
    this.engine.reset(this.checkpointState(name));
  }

  listCheckpoints(): CheckpointInfo[] {
    return [...this.checkpoints].map(([name, c]) => this.describe(name, c.state, c.createdAt));
  }

  deleteCheckpoint(name: string): boolean {
    return this.checkpoints.delete(name);
  }

  /** Changes between two checkpoints, or from a checkpoint (or the empty tree) to the current tree. */
  diff(from?: string, to?: string): DiffResult {
    const a = from === undefined ? new InodeFs() : this.checkpointState(from);
    const b = to === undefined ? this.engine : this.checkpointState(to);
    return a.diff(b);
  }

  /** An independent InodeFilesystem with the same tree (O(1) copy-on-write). */
  fork(options: Omit<InodeFilesystemOptions, 'fs'> = {}): InodeFilesystem {
    return new InodeFilesystem({ readOnly: this.readOnly, ...options, fs: this.engine.fork() });
  }

  /** @internal the saved state of a checkpoint (for the sandbox's snapshot/clone). */
  checkpointState(name: string): InodeFs {
    const c = this.checkpoints.get(name);
    if (!c) throw new Error(`no checkpoint named '${name}' (have: ${[...this.checkpoints.keys()].join(', ') || 'none'})`);
    return c.state;
  }

  private describe(name: string, state: InodeFs, createdAt: Date): CheckpointInfo {
    const u = state.usage();
    return { name, createdAt, files: u.inodes - 1, bytes: u.bytes };
  }
}
