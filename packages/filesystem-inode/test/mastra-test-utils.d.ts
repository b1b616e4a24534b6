// Types for Mastra's shared provider suites, resolved at test time from shared/ (vitest.shared.ts);
// they live outside the repo, so the type checker gets the entry points this package calls.
declare module '@internal/workspace-test-utils' {
  import type { WorkspaceFilesystem } from '@mastra/core/workspace';
  export function createFilesystemTestSuite(config: {
    suiteName: string;
    createFilesystem: () => Promise<WorkspaceFilesystem> | WorkspaceFilesystem;
    cleanupFilesystem?: (fs: WorkspaceFilesystem) => Promise<void>;
    capabilities?: Record<string, boolean | number>;
    testDomains?: Record<string, boolean>;
    testTimeout?: number;
    fastOnly?: boolean;
  }): void;
}
