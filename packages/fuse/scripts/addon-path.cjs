// Where the vws FUSE addon for this machine is, in the order to try: the prebuilt one shipped in the
// package (linux-x64 and linux-arm64, glibc; built at pack time by scripts/prebuild.cjs), then one
// built from source at install (build/Release). Shared by the install script and the driver.
'use strict';
const { join } = require('node:path');

function addonCandidates(root) {
  const out = [];
  // musl (Alpine) has no glibcVersionRuntime: a glibc prebuild would not load there.
  const glibc = process.platform === 'linux' && Boolean(process.report?.getReport?.().header?.glibcVersionRuntime);
  if (glibc) out.push(join(root, 'prebuilds', `linux-${process.arch}`, 'vws_fuse.node'));
  out.push(join(root, 'build', 'Release', 'vws_fuse.node'));
  return out;
}

module.exports = { addonCandidates };
