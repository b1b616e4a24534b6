// The exec daemon's own entry (what the exec client starts): `daemon/main --socket PATH`. An entry of
// its own, not a CLI command, so that it loads only what it serves with (~60 ms less at every start).
import { parseArgs } from 'node:util';
import { serve } from './server.js';

const { values } = parseArgs({ options: { socket: { type: 'string' } }, strict: true });
if (!values.socket) {
  process.stderr.write('usage: daemon/main --socket PATH\n');
  process.exit(2);
}
await serve({ socket: values.socket });
