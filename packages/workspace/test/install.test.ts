import { afterEach, expect, it } from 'vitest';
import { createVwsWorkspace, type VwsWorkspace } from '../src/index.js';

let vws: VwsWorkspace | undefined;
afterEach(async () => {
  await vws?.destroy();
});

it('installs an npm package into the workspace and the code can use it', async () => {
  vws = await createVwsWorkspace();
  const r = await vws.sandbox.installPackage('is-number@7.0.0', { manager: 'npm', timeout: 120_000 });
  expect(r.exitCode, r.stderr).toBe(0);
  expect(vws.filesystem.engine.exists('/node_modules/is-number/package.json')).toBe(true);
  const run = await vws.sandbox.executeCode("console.log(require('is-number')(42), require('is-number')('x'))", { runtime: 'node' });
  expect(run.stdout).toBe('true false\n');
  await expect(vws.sandbox.installPackage('bad name; rm -rf /', { manager: 'npm' })).rejects.toThrow(/not a package name/);
}, 180_000);
