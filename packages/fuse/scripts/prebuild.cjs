// prepack: puts this machine's addon in the package as prebuilds/linux-ARCH/vws_fuse.node (glibc),
// built from the current sources, so that users of that platform need only the fuse3 runtime. postpack
// removes it again, so the workspace always loads the addon built from its sources.
'use strict';
const { execFileSync } = require('node:child_process');
const { copyFileSync, existsSync, mkdirSync, readdirSync, statSync } = require('node:fs');
const { join } = require('node:path');

const root = join(__dirname, '..');
if (process.argv[2] === 'clean') {
  require('node:fs').rmSync(join(root, 'prebuilds'), { recursive: true, force: true });
  process.exit(0);
}
if (process.platform !== 'linux') throw new Error('prebuilds are made on Linux (glibc) only');
const built = join(root, 'build', 'Release', 'vws_fuse.node');
const sources = [join(root, 'binding.gyp'), ...readdirSync(join(root, 'native')).map((f) => join(root, 'native', f))];
if (!existsSync(built) || sources.some((s) => statSync(s).mtimeMs > statSync(built).mtimeMs)) {
  execFileSync(process.env.npm_config_node_gyp ? process.execPath : 'node-gyp', [...(process.env.npm_config_node_gyp ? [process.env.npm_config_node_gyp] : []), 'rebuild', '--loglevel=error'], { cwd: root, stdio: 'inherit' });
}
const dir = join(root, 'prebuilds', `linux-${process.arch}`);
mkdirSync(dir, { recursive: true });
copyFileSync(built, join(dir, 'vws_fuse.node'));
// Symbols are not needed to load it, and carry this machine's build paths.
execFileSync('strip', ['--strip-unneeded', join(dir, 'vws_fuse.node')]);
