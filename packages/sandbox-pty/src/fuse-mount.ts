// The FUSE fast path, kept apart from the general sync mode: an InodeFilesystem on a host where FUSE
// works is mounted through @vws/fuse (the kernel reads the engine directly, nothing is copied), and
// the change report comes from the engine's own diff against an O(1) fork taken before the command.
// Its whole interface is fuseMountOf(): an ActiveMount, or null when this path does not apply.

import { mkdir } from 'node:fs/promises';
import type { WorkspaceFilesystem } from '@mastra/core/workspace';
import { InodeFilesystem } from '@vws/filesystem-inode';
import { fuseProblem, mount as fuseMount, type Mount } from '@vws/fuse';
import type { InodeFs } from '@vws/inode-fs';
import { engineChanges } from './changes.js';
import type { ActiveMount, Changes } from './mounts.js';

/** A FUSE mount of `filesystem` at hostPath, or null (not an InodeFilesystem, or no FUSE here). */
export async function fuseMountOf(filesystem: WorkspaceFilesystem, mountPath: string, hostPath: string): Promise<ActiveMount | null> {
  if (!(filesystem instanceof InodeFilesystem) || fuseProblem()) return null;
  await mkdir(hostPath, { recursive: true, mode: 0o700 });
  // A read-only InodeFilesystem is read-only for commands too: the kernel answers EROFS.
  const handle = await fuseMount(filesystem.engine, hostPath, { readOnly: filesystem.readOnly });
  filesystem.attachHost(hostPath);
  return new FuseMount(mountPath, hostPath, filesystem, handle);
}

class FuseMount implements ActiveMount {
  readonly mode = 'fuse' as const;
  constructor(
    readonly mountPath: string,
    readonly hostPath: string,
    readonly filesystem: InodeFilesystem,
    private readonly handle: Mount,
  ) {}

  async begin(): Promise<() => Promise<Changes>> {
    const engine: InodeFs = this.filesystem.engine;
    const before = engine.fork(); // O(1)
    return async () => engineChanges(before, engine, this.mountPath);
  }

  /** The kernel caches names, attributes and pages: API writes made so far must reach it before a process starts (PtySandbox.launch awaits this). */
  settle(): Promise<void> {
    return this.handle.settle();
  }

  async unmount(): Promise<void> {
    this.filesystem.attachHost(undefined);
    await this.handle.unmount();
  }
}
