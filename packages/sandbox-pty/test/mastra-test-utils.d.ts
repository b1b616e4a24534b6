// Types for Mastra's shared provider suites, resolved at test time from shared/ (vitest.shared.ts);
// they live outside the repo, so the type checker gets the entry points this package calls.
declare module '@internal/workspace-test-utils' {
  import type { MastraSandbox, WorkspaceFilesystem } from '@mastra/core/workspace';
  export function createSandboxTestSuite(config: {
    suiteName: string;
    createSandbox: (options?: { env?: Record<string, string> }) => Promise<MastraSandbox> | MastraSandbox;
    createInvalidSandbox?: () => Promise<MastraSandbox> | MastraSandbox;
    cleanupSandbox?: (sandbox: MastraSandbox) => Promise<void>;
    capabilities?: Record<string, boolean | number>;
    testDomains?: Record<string, boolean>;
    testTimeout?: number;
    fastOnly?: boolean;
    createMountableFilesystem?: () => Promise<WorkspaceFilesystem> | WorkspaceFilesystem;
    killSandboxExternally?: (sandbox: MastraSandbox) => Promise<void>;
  }): void;
}
