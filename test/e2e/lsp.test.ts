// Mastra's LSP support on a vws workspace: Mastra resolves the language server and TypeScript from
// the project root synchronously (createRequire, existsSync), and the root is our FUSE mount. With
// the mount served on this process's JavaScript thread that hung the process for good; served on
// the serving thread, it must answer, and the language server (a real typescript-language-server,
// run by our sandbox inside the mount) must report a real type error.

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Workspace } from '@mastra/core/workspace';
import { InodeFilesystem } from '@vws/filesystem-inode';
import { PtySandbox } from '@vws/sandbox-pty';
import { afterAll, afterEach, describe, expect, it } from 'vitest';

const open: Workspace[] = [];
afterEach(async () => {
  for (const w of open.splice(0)) await w.destroy();
});
// The language server leaves a temporary directory per server (tsserver's cancellation pipes): ours.
const lspTmp = mkdtempSync(join(tmpdir(), 'vws-lsp-tmp-'));
afterAll(() => rmSync(lspTmp, { recursive: true, force: true }));

describe('Mastra LSP on a vws workspace', () => {
  it('typescript-language-server reports a type error in a file of the mounted workspace', async () => {
    const filesystem = new InodeFilesystem({
      files: {
        '/proj/package.json': JSON.stringify({ name: 'proj', private: true }),
        '/proj/tsconfig.json': JSON.stringify({ compilerOptions: { strict: true, noEmit: true } }),
        '/proj/src/ok.ts': 'export const n: number = 1;\n',
      },
    });
    const sandbox = new PtySandbox({ env: { TMPDIR: lspTmp } });
    await sandbox.start();
    const mounted = await sandbox.mount(filesystem, '/');
    expect(mounted.success).toBe(true);
    const root = sandbox.workingDirectory!;
    const workspace = new Workspace({ filesystem, sandbox, lsp: { root: `${root}/proj`, searchPaths: [process.cwd()], diagnosticTimeout: 15_000 } });
    open.push(workspace);
    await workspace.init();
    expect(workspace.lsp, 'Mastra enabled LSP (vscode-jsonrpc resolvable)').toBeTruthy();
    const started = Date.now();
    const diagnostics = await workspace.lsp!.getDiagnostics(`${root}/proj/src/bad.ts`, 'const x: number = "hello";\nexport {};\n');
    expect((diagnostics ?? []).some((d) => d.severity === 'error' && d.message.includes('not assignable')), JSON.stringify(diagnostics)).toBe(true);
    expect(Date.now() - started).toBeLessThan(30_000);
  });
});
