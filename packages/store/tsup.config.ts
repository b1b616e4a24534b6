import { vwsPackage } from '../../tsup.package.ts';

export default vwsPackage({ index: 'src/index.ts' });
