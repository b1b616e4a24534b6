// Mastra's own filesystem provider suite (workspaces/_test-utils, run unmodified from shared/; see
// vitest.shared.ts), against InodeFilesystem with every capability it has switched on.

import { createFilesystemTestSuite } from '@internal/workspace-test-utils';
import { InodeFilesystem } from '../src/index.js';

createFilesystemTestSuite({
  suiteName: 'InodeFilesystem (Mastra conformance)',
  createFilesystem: () => new InodeFilesystem(),
  capabilities: {
    supportsAppend: true,
    supportsSymlinks: true,
    supportsBinaryFiles: true,
    supportsPermissions: true,
    supportsCaseSensitive: true,
    supportsConcurrency: true,
    supportsForceDelete: true,
    supportsOverwrite: true,
    supportsEmptyDirectories: true,
    deleteThrowsOnMissing: true,
    // getMountConfig() is ours ('vws-inode'): the suite's mount-config group accepts only Mastra's
    // own mount types (see shared/mastra-test-utils/NOTICE.md), so it is left at its default (off).
  },
});
