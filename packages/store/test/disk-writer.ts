// A process that saves a changing tree into a DiskStore as fast as it can, printing each saved state's
// fingerprint: the crash test kills it with -9 at random moments.
import { DiskStore, openFromStore } from '../src/index.js';

const store = new DiskStore(process.argv[2]!);
const ws = await openFromStore(store, 'w');
for (let i = 0; ; i++) {
  for (let j = 0; j < 20; j++) ws.engine.writeFile(`/f${(i * 7 + j) % 200}.txt`, `round ${i} file ${j}\n`.repeat(50 + j));
  if (i % 3 === 0) ws.engine.writeFile('/big.bin', new Uint8Array(200_000).fill(i % 256));
  const fingerprint = ws.engine.fingerprint();
  // Said before the save too: a kill between its commit and the line after still names a known state.
  process.stdout.write(`${JSON.stringify({ event: 'saving', fingerprint })}\n`);
  await ws.save();
  process.stdout.write(`${JSON.stringify({ event: 'saved', fingerprint })}\n`);
}
