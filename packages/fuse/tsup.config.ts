import { vwsPackage } from '../../tsup.package.ts';

// serve-worker: the serving thread's entry, started by path next to the built index.
export default vwsPackage({ index: 'src/index.ts', 'serve-worker': 'src/serve-worker.ts' });
