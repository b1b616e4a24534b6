// A process that adds files to a shared DiskStore workspace one save at a time; when another process
// moved the head first (HeadConflictError) it reopens at the new head and tries again. Lost updates
// would show as missing files at the end.
import { DiskStore, HeadConflictError, openFromStore } from '../src/index.js';

const [root, tag, count] = [process.argv[2]!, process.argv[3]!, Number(process.argv[4])];
const store = new DiskStore(root);
let conflicts = 0;
for (let i = 0; i < count; i++) {
  for (;;) {
    const ws = await openFromStore(store, 'shared');
    ws.engine.writeFile(`/${tag}-${i}`, `${tag} ${i}`);
    try {
      await ws.save();
      break;
    } catch (e) {
      if (!(e instanceof HeadConflictError)) throw e;
      conflicts++;
    }
  }
}
process.stdout.write(`${JSON.stringify({ tag, conflicts })}\n`);
