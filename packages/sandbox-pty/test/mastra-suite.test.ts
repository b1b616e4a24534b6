// Mastra's own sandbox provider suite (workspaces/_test-utils, run unmodified from shared/; see
// vitest.shared.ts), against PtySandbox with every capability it claims switched on, mounts served
// by real FUSE.

import { createSandboxTestSuite } from '@internal/workspace-test-utils';
import { InodeFilesystem } from '@vws/filesystem-inode';
import { PtySandbox } from '../src/index.js';

const capabilities = {
    supportsMounting: true,
    // State lives in this process (the engine): a new PtySandbox object does not find an old one.
    supportsReconnection: false,
    supportsConcurrency: true,
    supportsEnvVars: true,
    supportsWorkingDirectory: true,
    supportsTimeout: true,
    supportsStreaming: true,
    supportsStdin: true,
    supportsCloseStdin: true,
};

createSandboxTestSuite({
  suiteName: 'PtySandbox (Mastra conformance)',
  createSandbox: (options) => new PtySandbox({ env: options?.env }),
  // Valid options whose working directory cannot exist (under a file): start() must reject.
  createInvalidSandbox: () => new PtySandbox({ workingDirectory: '/proc/version/vws-cannot-exist' }),
  createMountableFilesystem: () => new InodeFilesystem({ files: { '/hello.txt': 'hello from the mount\n' } }),
  capabilities,
  testDomains: { mountOperations: false },
});

// The mount group checks host paths ('/tmp/test-non-empty-…' made with mkdir, then mounted at the
// same path): mount paths resolve under the working directory (as LocalSandbox's do), so it runs
// with the host root as the working directory.
createSandboxTestSuite({
  suiteName: 'PtySandbox mounts at host paths (Mastra conformance)',
  createSandbox: (options) => new PtySandbox({ env: options?.env, workingDirectory: '/' }),
  createMountableFilesystem: () => new InodeFilesystem({ files: { '/hello.txt': 'hello from the mount\n' } }),
  capabilities,
  testDomains: { commandExecution: false, lifecycle: false, reconnection: false, processManagement: false, mountOperations: true },
});
