// The environment of a command run by `vws exec` (in-process or through the daemon) and `vws shell`.
//
// The command gets the sandbox's curated environment (PATH, HOME, TERM, LANG, no pagers or colours:
// @vws/sandbox-pty's buildEnv) plus, from the calling client's environment, only what tools need to
// reach the user's registries: CA certificates, proxies and npm/pip configuration (PASS_THROUGH).
// HOME is the vault's root for exec and shell alike. Tool caches and logs (npm, pip, XDG) go to a
// per-vault directory under $VWS_HOME/cache/, outside the vault, unless the caller keeps them in
// (`--keep-caches`); the user's ~/.npmrc and pip.conf are copied there and pointed at, so their
// registry settings apply without the files (and any tokens in them) entering the vault.
//
// Only Node's built-ins here: the exec client loads clientSettings() on every exec.

import { copyFileSync, existsSync, mkdirSync, statSync } from 'node:fs';
import { homedir } from 'node:os';
import { delimiter, join, posix } from 'node:path';

/** Names passed through from the client's environment as they are. */
const PASS_THROUGH = new Set(['NODE_EXTRA_CA_CERTS', 'SSL_CERT_FILE', 'SSL_CERT_DIR', 'REQUESTS_CA_BUNDLE', 'CURL_CA_BUNDLE', 'GIT_SSL_CAINFO', 'HTTP_PROXY', 'HTTPS_PROXY', 'NO_PROXY', 'http_proxy', 'https_proxy', 'no_proxy', 'TZ']);
/** Prefixes passed through: npm's and pip's own configuration variables. */
const PASS_PREFIXES = ['NPM_CONFIG_', 'npm_config_', 'PIP_'];

/** What a client sends with each exec (the daemon never uses its own environment for a command). */
export interface ExecSettings {
  /** The pass-through subset of the client's environment. */
  env: Record<string, string>;
  /** The client's home directory (its ~/.npmrc and pip.conf are copied from there). */
  userHome: string;
  /** `--env K=V`: set for the command, after everything else. */
  extraEnv?: Record<string, string>;
  /** `--cwd DIR`: the command's working directory, a path in the vault (default: its root). */
  cwd?: string;
  /** `--keep-caches`: tool caches and logs stay where the tools put them (under HOME: the vault). */
  keepCaches?: boolean;
}

export function isPassedThrough(name: string): boolean {
  return PASS_THROUGH.has(name) || PASS_PREFIXES.some((p) => name.startsWith(p));
}

/** The settings of this process's user, with the exec's options. */
export function clientSettings(options: { extraEnv?: Record<string, string>; cwd?: string; keepCaches?: boolean } = {}, env: NodeJS.ProcessEnv = process.env): ExecSettings {
  const passed: Record<string, string> = {};
  for (const [k, v] of Object.entries(env)) if (v !== undefined && isPassedThrough(k)) passed[k] = v;
  return { env: passed, userHome: env.HOME || homedir(), ...options };
}

/** Parses `--env K=V` values; a malformed one is a usage error (thrown as a message). */
export function parseEnvAssignments(list: string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const a of list) {
    const eq = a.indexOf('=');
    if (eq <= 0 || !/^[A-Za-z_][A-Za-z0-9_]*$/.test(a.slice(0, eq))) throw new Error(`--env '${a}' is not NAME=VALUE`);
    out[a.slice(0, eq)] = a.slice(eq + 1);
  }
  return out;
}

/** The per-vault directory for tool caches, logs and copied configuration: $VWS_HOME/cache/<vault>. */
export function cacheDir(home: string, vault: string): string {
  return join(home, 'cache', vault);
}

/**
 * The variables the command gets on top of the curated base: the client's pass-through, the cache
 * redirections (unless kept in), the copied config files, then --env.
 */
export function commandEnv(settings: ExecSettings, cache: string): Record<string, string> {
  const env: Record<string, string> = { ...settings.env };
  const has = (name: string) => Object.keys(env).some((k) => k.toLowerCase() === name.toLowerCase());
  if (!settings.keepCaches) {
    mkdirSync(cache, { recursive: true, mode: 0o700 });
    const dir = (sub: string) => {
      const p = join(cache, sub);
      mkdirSync(p, { recursive: true, mode: 0o700 });
      return p;
    };
    if (!has('npm_config_cache')) env.npm_config_cache = dir('npm');
    if (!has('npm_config_logs_dir')) env.npm_config_logs_dir = dir('npm-logs');
    if (!has('PIP_CACHE_DIR')) env.PIP_CACHE_DIR = dir('pip');
    env.XDG_CACHE_HOME = dir('xdg');
  }
  // Config files by copy, kept fresh at every exec; never into the vault.
  const npmrc = join(settings.userHome, '.npmrc');
  if (!has('npm_config_userconfig') && isFile(npmrc)) env.npm_config_userconfig = copyInto(cache, npmrc, 'npmrc');
  const pipConf = join(settings.userHome, '.config/pip/pip.conf');
  if (!has('PIP_CONFIG_FILE') && isFile(pipConf)) env.PIP_CONFIG_FILE = copyInto(cache, pipConf, 'pip.conf');
  Object.assign(env, settings.extraEnv);
  return env;
}

/** `--cwd DIR` as a path in the vault (relative to its root), or a message saying what is wrong. */
export function vaultCwd(cwd: string | undefined): string {
  if (cwd === undefined || cwd === '') return '/';
  return posix.resolve('/', cwd);
}

/**
 * Whether argv[0] names no program: a bare name found in no directory of PATH (only directories on
 * the host count; a command line whose PATH points elsewhere is given the benefit of the doubt).
 */
export function commandMissing(command: string, path: string): boolean {
  if (command.includes('/')) return false; // a path: the command itself reports it if it is wrong
  const dirs = path.split(delimiter).filter(Boolean);
  if (dirs.some((d) => !d.startsWith('/') || !existsSync(d))) return false;
  return !dirs.some((d) => isFile(join(d, command)));
}

function isFile(p: string): boolean {
  try {
    return statSync(p).isFile();
  } catch {
    return false;
  }
}

function copyInto(cache: string, from: string, name: string): string {
  mkdirSync(cache, { recursive: true, mode: 0o700 });
  const to = join(cache, name);
  copyFileSync(from, to);
  return to;
}
