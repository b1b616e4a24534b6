import { vwsPackage } from '../../tsup.package.ts';

// spawner-main: the spawner process's entry, forked by Spawner from beside its own module (dist/).
export default vwsPackage({ index: 'src/index.ts', runner: 'src/runner.ts', 'spawner-main': 'src/spawner-main.ts' });
