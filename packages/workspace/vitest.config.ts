import { vwsVitest } from '../../vitest.shared.ts';

const config = vwsVitest(import.meta.dirname);
config.test!.globalSetup = ['./test/global-setup.ts'];
export default config;
