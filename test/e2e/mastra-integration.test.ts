// Mastra's own workspace integration scenarios (its workspaces/_test-utils, run unmodified from
// ../shared) against a Workspace with our providers: InodeFilesystem mounted by PtySandbox, LSP on.
import { Workspace } from '@mastra/core/workspace';
import { InodeFilesystem } from '@vws/filesystem-inode';
import { PtySandbox } from '@vws/sandbox-pty';
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';

// Loaded by path at run time (vitest resolves its imports, see vitest.shared.ts): it is not part of
// this repository, so the type checker does not follow it.
const suites = resolve(import.meta.dirname, '../../../shared/mastra-test-utils/src/integration/index.ts');
if (!existsSync(suites)) throw new Error(`Mastra's shared test suites are missing: ${suites} (../shared beside the repository)`);
const { createWorkspaceIntegrationTests } = (await import(/* @vite-ignore */ suites)) as {
  createWorkspaceIntegrationTests(config: { suiteName: string; createWorkspace: () => Promise<Workspace>; testScenarios: Record<string, boolean> }): void;
};

createWorkspaceIntegrationTests({
  suiteName: 'vws: InodeFilesystem + PtySandbox (Mastra integration scenarios)',
  createWorkspace: async () => {
    const filesystem = new InodeFilesystem();
    const sandbox = new PtySandbox();
    await sandbox.start();
    const mounted = await sandbox.mount(filesystem, '/');
    if (!mounted.success) throw new Error(`mount failed: ${mounted.error}`);
    return new Workspace({ filesystem, sandbox, lsp: { searchPaths: [import.meta.dirname] } });
  },
  testScenarios: {
    fileSync: true,
    concurrentOperations: true,
    largeFileHandling: true,
    writeReadConsistency: true,
    lspDiagnostics: true,
    lspPerFileRoot: true,
    lspLargeFile: true,
    lspCrossFile: true,
    lspExternalProject: true,
  },
});
