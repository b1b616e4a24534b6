// A throwaway local Postgres (the one the tests use), until Ctrl-C: prints the VWS_STORE to export.
// Run: pnpm --filter @vws/store-postgres pg:local
import { startCluster } from '../test/cluster.js';

const cluster = await startCluster();
console.log(`VWS_STORE=${cluster.url}`);
console.log(`(data in ${cluster.dir}; Ctrl-C stops the server and removes it)`);
const stop = () => {
  cluster.stop();
  process.exit(0);
};
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
setInterval(() => {}, 1 << 30);
