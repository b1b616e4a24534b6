// prepack: ships node-pty's Linux binding (pty.node, built here at install from node-pty's sources)
// inside this package as prebuilds/linux-ARCH/pty.node, with node-pty's license beside it. node-pty
// has no Linux prebuilds and compiles at install; where that fails (no C++ toolchain), npm drops it
// (an optional dependency) and the launcher loads this copy. postpack (`clean`) removes it again.
'use strict';
const { execFileSync } = require('node:child_process');
const { copyFileSync, mkdirSync, rmSync } = require('node:fs');
const { dirname, join } = require('node:path');

const root = join(__dirname, '..');
if (process.argv[2] === 'clean') {
  rmSync(join(root, 'prebuilds'), { recursive: true, force: true });
  process.exit(0);
}
if (process.platform !== 'linux') throw new Error('prebuilds are made on Linux (glibc) only');
const ptyRoot = dirname(require.resolve('node-pty/package.json', { paths: [root] }));
const dir = join(root, 'prebuilds', `linux-${process.arch}`);
mkdirSync(dir, { recursive: true });
copyFileSync(join(ptyRoot, 'build', 'Release', 'pty.node'), join(dir, 'pty.node'));
copyFileSync(join(ptyRoot, 'LICENSE'), join(dir, 'node-pty.LICENSE'));
// Symbols are not needed to load it, and carry this machine's build paths.
execFileSync('strip', ['--strip-unneeded', join(dir, 'pty.node')]);
