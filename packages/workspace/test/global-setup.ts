// After the whole suite (also when tests failed): no vws FUSE mount may remain. Any left behind is
// detached, and the run fails loudly, naming them.
import { detach, fuseMounts } from '@vws/fuse';

export default function setup() {
  const before = new Set(fuseMounts().map((m) => m.path));
  return async () => {
    const left = fuseMounts().filter((m) => !before.has(m.path));
    for (const m of left) await detach(m.path);
    if (left.length) throw new Error(`the FUSE tests left mounts behind: ${left.map((m) => m.path).join(', ')}`);
  };
}
