// What a command changed, as paths under its mount. Mastra-free: the runner entry uses it too.

import type { InodeFs } from '@vws/inode-fs';

export interface Changes {
  created: string[];
  modified: string[];
  deleted: string[];
}

export const noChanges = (): Changes => ({ created: [], modified: [], deleted: [] });

/** The engine's own diff from `before` (an O(1) fork taken before a command) to `after`, as Changes under mountPath. */
export function engineChanges(before: InodeFs, after: InodeFs, mountPath = '/'): Changes {
  const d = before.diff(after);
  const prefix = (p: string) => (mountPath === '/' ? p : `${mountPath}${p}`);
  return {
    created: [...d.added, ...d.renamed].map((c) => prefix(c.path)).sort(),
    modified: d.modified.map((c) => prefix(c.path)).sort(),
    deleted: [...d.deleted.map((c) => c.path), ...d.renamed.map((c) => c.oldPath!)].map(prefix).sort(),
  };
}
