// Vaults on disk: $VWS_HOME/vaults/<name>/ holds state.snap (the tree), checkpoints/<name>.snap and
// meta.json. Every write is atomic (temp file, fsync, rename, fsync of the directory), so a process
// killed at any moment leaves a vault either before or after its command, never damaged. A lock per
// vault (proper-lockfile) makes a second process wait, then fail with a clear message.

import { closeSync, existsSync, fsyncSync, mkdirSync, openSync, readFileSync, readdirSync, renameSync, rmSync, statSync, writeSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { InodeFs, type Quota } from '@vws/inode-fs';
import lockfile from 'proper-lockfile';

export class VaultError extends Error {
  constructor(
    message: string,
    readonly exitCode = 2,
  ) {
    super(message);
    this.name = 'VaultError';
  }
}

const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

export function vwsHome(): string {
  return process.env.VWS_HOME || join(homedir(), '.vws');
}

/** Writes bytes atomically: a reader sees the old file or the new one, never a mix. */
export function atomicWrite(path: string, data: Uint8Array | string): void {
  const tmp = `${path}.tmp-${process.pid}`;
  const fd = openSync(tmp, 'w', 0o600);
  try {
    const bytes = typeof data === 'string' ? Buffer.from(data) : data;
    let off = 0;
    while (off < bytes.length) off += writeSync(fd, bytes, off, bytes.length - off);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, path);
  const dir = openSync(join(path, '..'), 'r');
  try {
    fsyncSync(dir);
  } finally {
    closeSync(dir);
  }
}

export interface VaultMeta {
  name: string;
  createdAt: string;
  updatedAt: string;
  checkpoints: Record<string, { createdAt: string; bytes: number }>;
  /** Limits the tree is loaded with (the engine's defaults where absent): writes past them fail with ENOSPC. */
  quota?: Partial<Quota>;
}

export class Vault {
  private constructor(
    readonly name: string,
    readonly dir: string,
  ) {}

  static root(): string {
    return join(vwsHome(), 'vaults');
  }

  static list(): string[] {
    const root = Vault.root();
    return existsSync(root) ? readdirSync(root).filter((n) => existsSync(join(root, n, 'meta.json'))).sort() : [];
  }

  static checkName(name: string): void {
    if (!NAME.test(name)) throw new VaultError(`'${name}' is not a valid vault or checkpoint name (letters, digits, . _ -; up to 64)`);
  }

  static open(name: string): Vault {
    Vault.checkName(name);
    const dir = join(Vault.root(), name);
    if (!existsSync(join(dir, 'meta.json'))) throw new VaultError(`no vault named '${name}' (vaults: ${Vault.list().join(', ') || 'none'}; create one with: vws vault create ${name})`, 3);
    return new Vault(name, dir);
  }

  static create(name: string, fs = new InodeFs(), quota?: Partial<Quota>): Vault {
    Vault.checkName(name);
    const dir = join(Vault.root(), name);
    if (existsSync(join(dir, 'meta.json'))) throw new VaultError(`a vault named '${name}' exists already`);
    mkdirSync(join(dir, 'checkpoints'), { recursive: true, mode: 0o700 });
    const v = new Vault(name, dir);
    const now = new Date().toISOString();
    atomicWrite(join(dir, 'state.snap'), fs.snapshot());
    // meta.json last: a vault without it does not exist (a crash mid-create leaves nothing visible).
    atomicWrite(join(dir, 'meta.json'), JSON.stringify({ name, createdAt: now, updatedAt: now, checkpoints: {}, ...(quota ? { quota } : {}) } satisfies VaultMeta, null, 2));
    return v;
  }

  meta(): VaultMeta {
    return JSON.parse(readFileSync(join(this.dir, 'meta.json'), 'utf8')) as VaultMeta;
  }

  private writeMeta(m: VaultMeta): void {
    atomicWrite(join(this.dir, 'meta.json'), JSON.stringify(m, null, 2));
  }

  /** The tree; `restore` decodes it (for exec: @vws/fuse's restoreForMount, on the serving thread). */
  load(restore: (bytes: Uint8Array, options: { quota?: Partial<Quota> }) => InodeFs = (b, o) => InodeFs.restore(b, o)): InodeFs {
    try {
      return restore(readFileSync(join(this.dir, 'state.snap')), { quota: this.meta().quota });
    } catch (e) {
      throw new VaultError(`vault '${this.name}' cannot be read: ${(e as Error).message}`, 4);
    }
  }

  /**
   * Names the tree file's current version: every save writes a new file (a new inode, created while
   * the old one still exists) and renames it over, so a tree saved by anyone else changes this.
   * With the quota it is loaded with. The exec daemon keeps a loaded tree only while it matches.
   */
  stateId(): string {
    const st = statSync(join(this.dir, 'state.snap'), { bigint: true });
    return `${st.dev}:${st.ino}:${st.size}:${st.mtimeNs}:${st.ctimeNs}:${JSON.stringify(this.meta().quota ?? {})}`;
  }

  save(fs: InodeFs): void {
    atomicWrite(join(this.dir, 'state.snap'), fs.snapshot());
    const m = this.meta();
    m.updatedAt = new Date().toISOString();
    this.writeMeta(m);
  }

  saveCheckpoint(name: string, fs: InodeFs): void {
    Vault.checkName(name);
    const bytes = fs.snapshot();
    atomicWrite(join(this.dir, 'checkpoints', `${name}.snap`), bytes);
    const m = this.meta();
    m.checkpoints[name] = { createdAt: new Date().toISOString(), bytes: bytes.length };
    this.writeMeta(m);
  }

  /** The checkpoint a bare `diff` or `patch` compares with: the newest; a clear error if none. */
  newestCheckpoint(): string {
    const newest = Object.entries(this.meta().checkpoints).sort((a, b) => a[1].createdAt.localeCompare(b[1].createdAt)).at(-1)?.[0];
    if (!newest) throw new VaultError(`vault '${this.name}' has no checkpoint to compare with (save one: vws checkpoint save NAME)`, 3);
    return newest;
  }

  loadCheckpoint(name: string): InodeFs {
    Vault.checkName(name);
    const path = join(this.dir, 'checkpoints', `${name}.snap`);
    if (!this.meta().checkpoints[name] || !existsSync(path)) throw new VaultError(`vault '${this.name}' has no checkpoint '${name}' (have: ${Object.keys(this.meta().checkpoints).join(', ') || 'none'})`, 3);
    return InodeFs.restore(readFileSync(path), { quota: this.meta().quota });
  }

  /** Sets the limits later loads use (under the vault's lock, like every write). */
  setQuota(quota: Partial<Quota>): void {
    const m = this.meta();
    m.quota = { ...m.quota, ...quota };
    this.writeMeta(m);
  }

  deleteCheckpoint(name: string): void {
    const m = this.meta();
    if (!m.checkpoints[name]) throw new VaultError(`vault '${this.name}' has no checkpoint '${name}'`, 3);
    delete m.checkpoints[name];
    this.writeMeta(m);
    rmSync(join(this.dir, 'checkpoints', `${name}.snap`), { force: true });
  }

  remove(): void {
    // meta.json first: from then on the vault does not exist, whatever else a crash leaves.
    rmSync(join(this.dir, 'meta.json'), { force: true });
    rmSync(this.dir, { recursive: true, force: true });
  }

  /** Runs fn holding this vault's lock; a second process waits up to waitMs, then fails clearly. */
  async locked<T>(fn: () => Promise<T> | T, waitMs = Number(process.env.VWS_LOCK_WAIT_MS ?? 10_000)): Promise<T> {
    let release: () => Promise<void>;
    try {
      // A lock whose holder died (kill -9) goes stale after 2 s: its holder refreshes it every second.
      release = await lockfile.lock(this.dir, { stale: 2_000, update: 1_000, retries: { retries: Math.max(0, Math.ceil(waitMs / 100)), minTimeout: 100, maxTimeout: 100, factor: 1 }, realpath: false });
    } catch (e) {
      if ((e as { code?: string }).code === 'ELOCKED') throw new VaultError(`vault '${this.name}' is in use by another vws process (waited ${waitMs} ms); try again when it has finished`, 5);
      throw e;
    }
    try {
      return await fn();
    } finally {
      await release();
    }
  }
}

/** The vault commands act on: --vault, else $VWS_VAULT, else the one `vws vault use` chose. */
export function currentVaultName(flag?: string): string {
  if (flag) return flag;
  if (process.env.VWS_VAULT) return process.env.VWS_VAULT;
  const file = join(vwsHome(), 'current');
  if (existsSync(file)) return readFileSync(file, 'utf8').trim();
  throw new VaultError('no vault selected: pass --vault NAME, or run: vws vault use NAME', 2);
}

export function useVault(name: string): void {
  Vault.open(name);
  mkdirSync(vwsHome(), { recursive: true });
  atomicWrite(join(vwsHome(), 'current'), name);
}
