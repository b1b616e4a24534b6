// npm's install step for @vws/fuse. Never fails the install: FUSE is optional (without it the sandbox
// runs in sync mode), so a machine without a compiler or libfuse3 still installs, and mounting later
// says what to install. A prebuilt addon that loads here means there is nothing to build.
'use strict';
const { spawnSync } = require('node:child_process');
const { existsSync } = require('node:fs');
const { join } = require('node:path');

const root = join(__dirname, '..');
const say = (m) => process.stderr.write(`@vws/fuse: ${m}\n`);

function loads(file) {
  if (!existsSync(file)) return false;
  try {
    require(file);
    return true;
  } catch {
    return false;
  }
}

try {
  const prebuilt = require('./addon-path.cjs').prebuiltPath(root);
  if (prebuilt && loads(prebuilt)) process.exit(0);
  if (process.platform !== 'linux') {
    say(`no FUSE on ${process.platform}: the sandbox will run in sync mode`);
    process.exit(0);
  }
  // npm and pnpm hand their own node-gyp to install scripts.
  const gyp = process.env.npm_config_node_gyp;
  const r = gyp ? spawnSync(process.execPath, [gyp, 'rebuild', '--loglevel=error'], { cwd: root, stdio: 'inherit' }) : spawnSync('node-gyp', ['rebuild', '--loglevel=error'], { cwd: root, stdio: 'inherit' });
  if (r.status !== 0) {
    say('the FUSE addon was not built, and no prebuilt one fits this machine: vws runs in sync mode (no FUSE).');
    say('For FUSE: apt-get install fuse3 libfuse3-dev pkg-config make g++ python3, then npm rebuild @vws/fuse.');
  }
} catch (e) {
  say(`install step skipped (${e && e.message}); vws runs in sync mode until the addon is built`);
}
process.exit(0);
