// The environment commands see: curated, never the host's by default.

export interface EnvOptions {
  /** Extra variables for every command. */
  env?: Record<string, string | undefined>;
  /** Host variables to pass through by name. */
  inheritNames?: string[];
  /** Pass the whole host environment (off by default). */
  inheritEnv?: boolean;
}

const DEFAULT_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

export function buildEnv(home: string, base: EnvOptions, perCall: Record<string, string | undefined> = {}): Record<string, string> {
  const out: Record<string, string> = {};
  if (base.inheritEnv) Object.assign(out, process.env);
  // The project's own Node toolchain first, so `node` inside the sandbox is the one running us.
  const nodeDir = process.execPath.slice(0, process.execPath.lastIndexOf('/'));
  // No interactive pagers (an agent cannot press q) and no colour codes in what the agent reads,
  // for the tools agents run most: NO_COLOR (most CLIs, pytest, node), FORCE_COLOR=0 (chalk and
  // friends), git's color.ui, npm's color, PY_COLORS (pytest), CLICOLOR (BSD-style ls). All of these
  // can be overridden through env.
  Object.assign(out, {
    PATH: `${nodeDir}:${DEFAULT_PATH}`,
    HOME: home,
    TERM: 'xterm-256color',
    LANG: 'C.UTF-8',
    LC_ALL: 'C.UTF-8',
    PAGER: 'cat',
    GIT_PAGER: 'cat',
    NO_COLOR: '1',
    FORCE_COLOR: '0',
    GIT_CONFIG_PARAMETERS: "'color.ui'='never'",
    npm_config_color: 'false',
    PY_COLORS: '0',
    CLICOLOR: '0',
  });
  for (const name of base.inheritNames ?? []) {
    const v = process.env[name];
    if (v !== undefined) out[name] = v;
  }
  for (const [k, v] of Object.entries({ ...base.env, ...perCall })) {
    if (v === undefined) delete out[k];
    else out[k] = v;
  }
  return out;
}
