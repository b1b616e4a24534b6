// How a WorkspaceFilesystem becomes visible to commands: an InodeFilesystem is FUSE-mounted (the
// kernel reads the engine directly) or, without FUSE, kept in an incremental shadow directory
// (shadow-mount.ts); any other WorkspaceFilesystem runs in copy sync mode (the tree is exported into
// a 0700 directory before a command and the changes are synced back after).

import { chmod, lstat, mkdir, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { WorkspaceFilesystem } from '@mastra/core/workspace';
import { InodeFilesystem } from '@vws/filesystem-inode';
import type { InodeFs } from '@vws/inode-fs';
import { fuseMountOf } from './fuse-mount.js';
import { ShadowMount } from './shadow-mount.js';

import { noChanges, type Changes } from './changes.js';

export { noChanges, type Changes };

export interface ActiveMount {
  readonly mountPath: string;
  readonly hostPath: string;
  readonly filesystem: WorkspaceFilesystem;
  readonly mode: 'fuse' | 'sync';
  /** Called before a command: returns a function that, after it, reports (and in sync mode applies) the changes. */
  begin(): Promise<() => Promise<Changes>>;
  /** Resolves when API changes made so far are visible to a process started next (FUSE: kernel caches). */
  settle?(): Promise<void>;
  /** Sync mode: both ways now (what background processes changed reaches the engine). */
  sync?(): Promise<void>;
  unmount(): Promise<void>;
}

/** Paths handed to a generic filesystem are relative ('a/b'): providers such as LocalFilesystem read '/' as the host root. */
const join2 = (a: string, b: string) => (a === '' ? b : `${a}/${b}`);

interface Seen {
  kind: 'file' | 'dir' | 'link';
  size: number;
  mtimeMs: number;
  mode: number;
  ino: number;
  nlink: number;
}

/** Copy sync mode (any WorkspaceFilesystem): export, run, sync back (modes included), delete. */
class SyncMount implements ActiveMount {
  readonly mode = 'sync' as const;
  constructor(
    readonly mountPath: string,
    readonly hostPath: string,
    readonly filesystem: WorkspaceFilesystem,
  ) {}

  private engine(): InodeFs | undefined {
    return this.filesystem instanceof InodeFilesystem ? this.filesystem.engine : undefined;
  }

  private async exportTree(): Promise<void> {
    await rm(this.hostPath, { recursive: true, force: true });
    await mkdir(this.hostPath, { recursive: true, mode: 0o700 });
    const engine = this.engine();
    const walk = async (dir: string) => {
      for (const e of await this.filesystem.readdir(dir === '' ? '.' : dir)) {
        const src = join2(dir, e.name);
        const dst = join(this.hostPath, src);
        if (e.isSymlink && engine) {
          const { symlink } = await import('node:fs/promises');
          await symlink(engine.readlink(`/${src}`), dst);
        } else if (e.type === 'directory') {
          await mkdir(dst);
          await walk(src);
        } else {
          await writeFile(dst, (await this.filesystem.readFile(src)) as Buffer);
          if (engine) await chmod(dst, engine.stat(`/${src}`).mode & 0o7777);
        }
      }
    };
    await walk('');
  }

  private async scan(): Promise<Map<string, Seen>> {
    const out = new Map<string, Seen>();
    const walk = async (rel: string) => {
      for (const name of await readdir(join(this.hostPath, rel))) {
        const r = join2(rel, name);
        const st = await lstat(join(this.hostPath, r));
        const kind = st.isSymbolicLink() ? 'link' : st.isDirectory() ? 'dir' : 'file';
        out.set(r, { kind, size: st.size, mtimeMs: st.mtimeMs, mode: st.mode & 0o7777, ino: st.ino, nlink: st.nlink });
        if (kind === 'dir') await walk(r);
      }
    };
    await walk('');
    return out;
  }

  async begin(): Promise<() => Promise<Changes>> {
    await this.exportTree();
    const before = await this.scan();
    return async () => {
      const after = await this.scan();
      const changes = noChanges();
      const engine = this.engine();
      // Names per host inode: a new name of a file with more links than that is linked to a file
      // outside the tree, whose content is not the workspace's to take.
      const names = new Map<number, number>();
      for (const s of after.values()) if (s.kind === 'file') names.set(s.ino, (names.get(s.ino) ?? 0) + 1);
      for (const [p, s] of after) {
        const was = before.get(p);
        // What the filesystem cannot hold is not carried back, nor reported: symlinks (the
        // WorkspaceFilesystem API has none) and hard links to files outside the tree.
        if (s.kind === 'link' && !engine) continue;
        if (s.kind === 'file' && (!was || was.ino !== s.ino) && s.nlink > (names.get(s.ino) ?? 0)) continue;
        if (s.kind === 'dir') {
          if (!was) await this.filesystem.mkdir(p, { recursive: true });
          if (engine && (!was || was.mode !== s.mode)) engine.chmod(`/${p}`, s.mode);
          continue;
        }
        const changed = !was || was.kind !== s.kind || was.size !== s.size || was.mtimeMs !== s.mtimeMs;
        const modeChanged = was && was.mode !== s.mode;
        if (changed) {
          if (s.kind === 'file') await this.filesystem.writeFile(p, await readFile(join(this.hostPath, p)));
          (was ? changes.modified : changes.created).push(this.prefix(p));
        } else if (modeChanged) changes.modified.push(this.prefix(p));
        if (engine && s.kind === 'file' && (changed || modeChanged)) engine.chmod(`/${p}`, s.mode);
      }
      // Deletions: deepest first, so directories are empty when removed.
      for (const p of [...before.keys()].filter((k) => !after.has(k)).sort().reverse()) {
        const was = before.get(p)!;
        if (was.kind === 'dir') await this.filesystem.rmdir(p, { recursive: true, force: true });
        else {
          await this.filesystem.deleteFile(p, { force: true });
          changes.deleted.push(this.prefix(p));
        }
      }
      await rm(this.hostPath, { recursive: true, force: true });
      changes.created.sort();
      changes.modified.sort();
      changes.deleted.sort();
      return changes;
    };
  }

  private prefix(p: string): string {
    return this.mountPath === '/' ? `/${p}` : `${this.mountPath}/${p}`;
  }

  async unmount(): Promise<void> {
    await rm(this.hostPath, { recursive: true, force: true });
  }
}

/** Mounts `filesystem` at hostPath: the FUSE fast path where it applies (see fuse-mount.ts), else sync mode. */
export async function mountFilesystem(filesystem: WorkspaceFilesystem, mountPath: string, hostPath: string, options: { forceSync?: boolean }): Promise<ActiveMount> {
  const fast = options.forceSync ? null : await fuseMountOf(filesystem, mountPath, hostPath);
  if (fast) return fast;
  if (filesystem instanceof InodeFilesystem) {
    // The shadow holds every file: a tree opened lazily from a store is fetched whole (batched) first.
    await filesystem.engine.prefetch();
    return ShadowMount.create(filesystem, mountPath, hostPath);
  }
  return new SyncMount(mountPath, hostPath, filesystem);
}
