// Whether the built CLI (dist/) may run: it exists and no source it was built from has changed since.
// dist/inputs.json (written last by tsup.config.ts) has the build's start time and those sources.
import { existsSync, readFileSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const pkg = join(dirname(fileURLToPath(import.meta.url)), '..');

/** dist/main.js when it is up to date (a few ms of stat calls), else undefined. VWS_FROM_SOURCE=1 says no. */
export function builtMain() {
  // Installed from npm: there are no sources, only the build.
  if (!existsSync(join(pkg, 'src'))) return join(pkg, 'dist/main.js');
  if (process.env.VWS_FROM_SOURCE === '1') return undefined;
  try {
    const { builtAt, inputs } = JSON.parse(readFileSync(join(pkg, 'dist/inputs.json'), 'utf8'));
    return inputs.every((p) => statSync(join(pkg, p)).mtimeMs < builtAt) ? join(pkg, 'dist/main.js') : undefined;
  } catch {
    return undefined; // not built, a build under way, or a source gone
  }
}
