// Where the vws FUSE addon for this machine is, in the order to try: the prebuilt one shipped in the
// package (linux-x64, glibc; made at pack time by scripts/prebuild.cjs), then one built from source
// (build/Release: at install where no prebuilt loads, or in the monorepo). When both exist, the newer
// comes first: a source build made because the prebuilt did not load (npm dates a tarball's files in
// 1985), or a monorepo build newer than a prebuild left by an interrupted pack. Shared by the install
// step and the driver.
'use strict';
const { statSync } = require('node:fs');
const { join } = require('node:path');

const mtime = (f) => {
  try {
    return statSync(f).mtimeMs;
  } catch {
    return -1;
  }
};

/** The prebuilt addon for this machine, or undefined where none can fit (not glibc Linux). */
function prebuiltPath(root) {
  // musl (Alpine) has no glibcVersionRuntime: a glibc prebuild would not load there.
  const glibc = process.platform === 'linux' && Boolean(process.report?.getReport?.().header?.glibcVersionRuntime);
  return glibc ? join(root, 'prebuilds', `linux-${process.arch}`, 'vws_fuse.node') : undefined;
}

function addonCandidates(root) {
  const prebuilt = prebuiltPath(root);
  const out = [...(prebuilt ? [prebuilt] : []), join(root, 'build', 'Release', 'vws_fuse.node')];
  return out.sort((a, b) => mtime(b) - mtime(a)); // stable: the prebuilt first on a tie
}

module.exports = { addonCandidates, prebuiltPath };
