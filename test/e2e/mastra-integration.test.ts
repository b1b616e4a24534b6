// Mastra's own workspace integration scenarios (its workspaces/_test-utils, run unmodified from
// ../shared) against a Workspace with our providers: InodeFilesystem mounted by PtySandbox, LSP on.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LocalFilesystem, LocalSandbox, Workspace } from '@mastra/core/workspace';
import { afterAll, describe, expect, it } from 'vitest';
import { InodeFilesystem } from '@vws/filesystem-inode';
import { PtySandbox } from '@vws/sandbox-pty';
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';

// typescript-language-server makes a temporary directory per server (tsserver's cancellation pipes)
// and leaves it when the server is stopped: the language servers of this file get one of ours.
const lspTmp = mkdtempSync(join(tmpdir(), 'vws-lsp-tmp-'));
afterAll(() => rmSync(lspTmp, { recursive: true, force: true }));
const env = { TMPDIR: lspTmp };

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
    const sandbox = new PtySandbox({ env });
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

// The two scenarios left out in vitest.config.ts (Mastra 1.71's LSPManager fails them on its own Local
// providers): what the model would get must still be what Local gives.
describe("Mastra's LSP where its own Local providers disagree with its suites: ours gives Local's results", () => {
  const dirs: string[] = [];
  const open: Workspace[] = [];
  afterAll(async () => {
    for (const w of open) await w.destroy();
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  async function results(workspace: Workspace, root: string) {
    open.push(workspace);
    await workspace.init();
    const fs = workspace.filesystem!;
    await fs.writeFile(join(root, 'readme.md'), '# Hello');
    const unsupported = await workspace.lsp!.getDiagnostics(join(root, 'readme.md'), '# Hello');
    await fs.writeFile(join(root, 'project-a', 'tsconfig.json'), JSON.stringify({ compilerOptions: { strict: true } }));
    await fs.writeFile(join(root, 'project-b', 'tsconfig.json'), JSON.stringify({ compilerOptions: { strict: false, noImplicitAny: false } }));
    const code = 'function f(x) { return x; }';
    const strictA = await workspace.lsp!.getDiagnostics(join(root, 'project-a', 'param.ts'), code);
    const looseB = await workspace.lsp!.getDiagnostics(join(root, 'project-b', 'param.ts'), code);
    const summary = (d: typeof strictA) => d?.map((x) => `${x.severity} ${x.line}:${x.character} ${x.message}`) ?? null;
    return { unsupported, strictA: summary(strictA), looseB: summary(looseB) };
  }

  it('getDiagnostics on a Markdown file, and per-project tsconfig strictness', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'vws-lsp-local-'));
    dirs.push(dir);
    const lsp = { searchPaths: [import.meta.dirname] };
    const local = await results(new Workspace({ filesystem: new LocalFilesystem({ basePath: dir }), sandbox: new LocalSandbox({ workingDirectory: dir, env }), lsp }), dir);
    const filesystem = new InodeFilesystem();
    const sandbox = new PtySandbox({ env });
    await sandbox.start();
    expect((await sandbox.mount(filesystem, '/')).success).toBe(true);
    const ours = await results(new Workspace({ filesystem, sandbox, lsp }), sandbox.workingDirectory!);
    // Real diagnostics came back on both sides (a language server ran), and they are the same.
    expect(local.strictA?.length).toBeGreaterThan(0);
    expect(ours).toEqual(local);
  });
});
