// vws as a user installs it. Every package is packed (scripts/check-packages.sh: pnpm pack, then
// publint, arethetypeswrong and the tarballs' contents), installed with npm (no workspace links) next to
// @mastra/core in a fresh app outside the repository, and there each package README's example runs as
// written (ESM, and CommonJS for the workspace: a real Agent on Mastra's CommonJS build) along with the
// installed `vws` binary. Then the same install and examples in a bubblewrap namespace with no C
// compiler and no /dev/fuse: nothing compiles (node-pty fails to, our prebuilt bindings serve), and
// everything runs in sync mode.

import { execFile } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, realpathSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const root = resolve(import.meta.dirname, '../..');
const packs = join(root, '.vws-tmp/install/packs');
// npm's cache, kept between runs: a warm install takes seconds, a cold one about half a minute.
const cache = join(root, '.vws-tmp/npm-cache');
const devDeps = JSON.parse(readFileSync(join(root, 'test/package.json'), 'utf8')).devDependencies as Record<string, string>;
const published = readdirSync(join(root, 'packages')).filter((d) => !JSON.parse(readFileSync(join(root, 'packages', d, 'package.json'), 'utf8')).private);

/** The blocks each README marks with `<!-- install-test: NAME -->`, as files named PACKAGE-NAME. */
function readmeExamples(): Record<string, string> {
  const out: Record<string, string> = {};
  for (const pkg of published) {
    const text = readFileSync(join(root, 'packages', pkg, 'README.md'), 'utf8');
    for (const m of text.matchAll(/<!-- install-test: (\S+)[^>]*-->\n```\w*\n([\s\S]*?)```/g)) out[`${pkg}-${m[1]}`] = m[2];
  }
  return out;
}
const examples = readmeExamples();

interface Run {
  app: string;
  code(name: string): number;
  out(name: string): string;
}

function prepare(label: string): Run {
  const app = mkdtempSync(join(tmpdir(), `vws-install-${label}-`));
  mkdirSync(join(app, 'examples'));
  for (const [name, code] of Object.entries(examples)) writeFileSync(join(app, 'examples', name), code);
  writeFileSync(join(app, 'drive.sh'), readFileSync(join(import.meta.dirname, 'drive.sh')));
  apps.push(app);
  return {
    app,
    code: (name) => Number(readFileSync(join(app, 'out', `${name}.code`), 'utf8')),
    out: (name) => readFileSync(join(app, 'out', `${name}.txt`), 'utf8'),
  };
}

/**
 * A user's environment: this one without what pnpm and turbo hand their scripts (npm_config_*,
 * npm_package_*, pnpm's own: npm warns about those it does not know) and without vws settings; only
 * npm_config_nodedir stays (the toolchain's Node headers, where node-gyp would otherwise download them).
 */
function env(): NodeJS.ProcessEnv {
  const clean = Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^(npm_|pnpm_|PNPM_|VWS_DAEMON$|VWS_HOME$|VWS_VAULT$|INIT_CWD$)/i.test(k) || k === 'npm_config_nodedir'));
  return { ...clean, CACHE: cache, PACKS: packs, MASTRA: devDeps['@mastra/core'], ZOD: devDeps.zod };
}

/** What each README example must print, on FUSE or in sync mode. */
function expectExamples(r: Run, mode: 'fuse' | 'sync'): void {
  for (const how of ['require', 'import']) {
    expect(r.code(how), r.out(how)).toBe(0);
    expect(r.out(how).trim().split('\n').every((l) => l.endsWith(' true')), r.out(how)).toBe(true);
  }
  for (const name of Object.keys(examples)) expect(r.code(name), `${name}:\n${r.out(name)}`).toBe(0);
  expect(r.out('inode-fs-example.mjs')).toBe("[ '/hello.txt' ]\nhello\n\n");
  expect(r.out('fuse-example.mjs')).toMatch(mode === 'fuse' ? /^from the API\n/ : /^no FUSE here: FUSE is not available: \/dev\/fuse does not exist/);
  expect(r.out('filesystem-inode-example.mjs')).toMatch(/path: '\/notes\.txt'[\s\S]*\nfalse\n$/);
  expect(r.out('sandbox-pty-example.mjs')).toContain("0 hello [ '/workspace/out.txt' ]\nmade\n");
  expect(r.out('sandbox-pty-example.mjs')).toContain(`{ '/workspace': '${mode}' }`);
  for (const agent of ['workspace-example.mjs', 'workspace-example.cjs']) {
    const lines = r.out(agent).trim().split('\n');
    // write_file of a new file: Mastra's own `instanceof FileNotFoundError` recognised our error.
    expect(lines[0], agent).toBe('mastra_workspace_write_file "Wrote 6 bytes to hello.txt"');
    expect(lines[1], agent).toMatch(/^mastra_workspace_execute_command ".*1 hello.txt.*1 README.md/);
    expect(lines[2], agent).toMatch(/^vws_checkpoint_save \{"name":"good"/);
    expect(lines[4], agent).toBe('vws_checkpoint_restore {"restored":"good"}');
    // After the restore, the file holds what was checkpointed, not "broken".
    expect(lines[5], agent).toMatch(/^mastra_workspace_read_file ".*1→hello/);
    expect(lines[6], agent).toBe(`modes {"/":"${mode}"}`);
  }
  expect(r.out('store-example.mjs')).toBe('delta 1\nchanged true\n');
  expect(r.out('store-postgres-example.mjs')).toBe('true StoreUnavailableError\n');
  expect(r.out('cli-example.sh')).toContain('{"path":"/hello.txt","content":"hi\\nmore\\n"}');
  // The installed binary.
  expect(r.code('help')).toBe(0);
  expect(r.out('help')).toMatch(/^Usage: vws/);
  expect(r.out('vault')).toBe('{"created":"v"}\n');
  expect(r.code('exec')).toBe(0);
  expect(r.out('exec')).toContain('made by exec');
  expect(r.out('cat')).toBe('made by exec\n');
  const doctor = JSON.parse(r.out('doctor')) as { checks: Array<{ check: string; ok: boolean; detail: string }> };
  expect(doctor.checks.find((c) => c.check === 'fuse')?.ok).toBe(mode === 'fuse');
}

/** A child's status and output, awaited (a synchronous wait would starve vitest's worker for minutes). */
function run(cmd: string, args: string[], opts: { env?: NodeJS.ProcessEnv; timeout: number; cwd?: string }): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((done) => {
    execFile(cmd, args, { ...opts, encoding: 'utf8', maxBuffer: 64 << 20 }, (err, stdout, stderr) => {
      done({ status: err ? (typeof err.code === 'number' ? err.code : null) : 0, stdout, stderr });
    });
  });
}

const apps: string[] = [];
let check: { status: number | null; output: string };

beforeAll(async () => {
  const r = await run('bash', [join(root, 'scripts/check-packages.sh'), packs], { timeout: 600_000 });
  check = { status: r.status, output: r.stdout + r.stderr };
}, 620_000);

afterAll(() => {
  for (const app of apps) rmSync(app, { recursive: true, force: true });
});

describe('installed as a user installs it', () => {
  it('every README has an install line and an example, and every package packs clean (publint, attw, no leftovers)', () => {
    expect(check.status, check.output).toBe(0);
    expect(check.output).toContain(`${published.length} packages clean`);
    for (const pkg of published) {
      const readme = readFileSync(join(root, 'packages', pkg, 'README.md'), 'utf8').split('\n');
      // The title, then the install line.
      expect(readme.slice(1, 4).join('\n'), pkg).toMatch(/```sh\nnpm install @vws\//);
      expect(Object.keys(examples).some((e) => e.startsWith(`${pkg}-`)), pkg).toBe(true);
    }
    // The workspace example runs from both module systems.
    expect(Object.keys(examples)).toEqual(expect.arrayContaining(['workspace-example.mjs', 'workspace-example.cjs']));
    // The FUSE addon and node-pty's binding travel prebuilt.
    expect(check.output).toMatch(/prebuilds\/linux-x64\/vws_fuse\.node/);
    expect(check.output).toMatch(/prebuilds\/linux-x64\/pty\.node/);
  });

  it('pnpm changeset version turns the changesets into versions and a CHANGELOG.md per package', async () => {
    // A copy of what changesets reads (the manifests and .changeset/), in a git repository of its own.
    const copy = mkdtempSync(join(tmpdir(), 'vws-changeset-'));
    apps.push(copy);
    const manifests = ['package.json', 'pnpm-workspace.yaml', 'test/package.json', ...['packages', 'explorations'].flatMap((d) => readdirSync(join(root, d)).map((p) => `${d}/${p}/package.json`))];
    for (const f of manifests.filter((m) => existsSync(join(root, m)))) cpSync(join(root, f), join(copy, f));
    cpSync(join(root, '.changeset'), join(copy, '.changeset'), { recursive: true });
    symlinkSync(join(root, 'node_modules'), join(copy, 'node_modules'));
    const git = ['-c', 'user.name=t', '-c', 'user.email=t@t'];
    expect((await run('sh', ['-c', `cd ${copy} && git init -q && git ${git.join(' ')} add -A && git ${git.join(' ')} commit -qm changes`], { timeout: 60_000 })).status).toBe(0);
    const r = await run(join(root, 'node_modules/.bin/changeset'), ['version'], { env: { ...process.env, PWD: copy }, timeout: 120_000, cwd: copy });
    expect(r.status, r.stdout + r.stderr).toBe(0);
    for (const pkg of published) {
      const before = JSON.parse(readFileSync(join(root, 'packages', pkg, 'package.json'), 'utf8')).version;
      const after = JSON.parse(readFileSync(join(copy, 'packages', pkg, 'package.json'), 'utf8')).version;
      expect(after, pkg).not.toBe(before);
      expect(readFileSync(join(copy, 'packages', pkg, 'CHANGELOG.md'), 'utf8'), pkg).toContain(`## ${after}`);
    }
  }, 180_000);

  it('npm install in a fresh app, then each README example (ESM and CommonJS) and the vws binary, on FUSE', async () => {
    expect(check.status, check.output).toBe(0);
    const r = prepare('host');
    expect((await run('bash', [join(r.app, 'drive.sh')], { env: { ...env(), APP: r.app }, timeout: 900_000 })).status).toBe(0);
    expect(r.code('npm-install'), r.out('npm-install')).toBe(0);
    // npm, not workspace links: real directories from the tarballs.
    expect(existsSync(join(r.app, 'node_modules/@vws/workspace/dist/index.cjs'))).toBe(true);
    expect(existsSync(join(r.app, 'node_modules/@vws/workspace/src'))).toBe(false);
    expectExamples(r, 'fuse');
  }, 900_000);

  it('the same in bubblewrap without a C compiler and without /dev/fuse: installs, runs in sync mode, says what to install', async () => {
    expect(check.status, check.output).toBe(0);
    const r = prepare('nocc');
    // Every compiler driver and make (the files their names lead to), replaced by an empty file that is not executable.
    const nothing = join(r.app, 'not-a-compiler');
    writeFileSync(nothing, '', { mode: 0o644 });
    const compilers = ['/usr/bin', '/usr/local/bin'].flatMap((d) =>
      readdirSync(d)
        .filter((f) => /^(cc|c\+\+|gcc|g\+\+|clang(\+\+)?|tcc|make|c89-gcc|c99-gcc|(.+-)?(gcc|g\+\+)(-\d+)?)$/.test(f))
        .map((f) => realpathSync(join(d, f))),
    );
    expect(compilers.length).toBeGreaterThan(2);
    const masks = [...new Set(compilers)].flatMap((c) => ['--ro-bind', nothing, c]);
    // The probe and the whole drive run inside: host tree writable (the app, npm's cache), a fresh /dev.
    const inside = (script: string) =>
      run('bwrap', ['--bind', '/', '/', '--dev', '/dev', ...masks, '--die-with-parent', 'bash', '-c', script], { env: { ...env(), APP: r.app }, timeout: 900_000 });
    const probe = await inside('for c in cc gcc g++ c++ make; do $c --version >/dev/null 2>&1 && echo "$c runs"; done; test -e /dev/fuse && echo has-fuse; echo probed');
    expect(probe.stdout + probe.stderr).toBe('probed\n');
    expect((await inside(`bash ${join(r.app, 'drive.sh')}`)).status).toBe(0);
    expect(r.code('npm-install'), r.out('npm-install')).toBe(0);
    // node-pty could not compile here: the binding shipped in @vws/sandbox-pty ran the commands.
    expect(existsSync(join(r.app, 'node_modules/node-pty/build/Release/pty.node'))).toBe(false);
    expectExamples(r, 'sync');
    const doctor = JSON.parse(r.out('doctor')) as { checks: Array<{ check: string; detail: string }> };
    expect(doctor.checks.find((c) => c.check === 'fuse')?.detail).toMatch(/\/dev\/fuse does not exist/);
    // Where no prebuilt addon fits: the install step tries to build, cannot, says what to install, and succeeds.
    const fuse = join(r.app, 'node_modules/@vws/fuse');
    rmSync(join(fuse, 'prebuilds'), { recursive: true });
    const install = await inside(`cd ${r.app} && npm rebuild @vws/fuse --foreground-scripts --cache ${cache}`);
    expect(install.status, install.stdout + install.stderr).toBe(0);
    expect(install.stdout + install.stderr).toContain('For FUSE: apt-get install fuse3 libfuse3-dev');
    expect(existsSync(join(fuse, 'build/Release/vws_fuse.node'))).toBe(false);
  }, 900_000);
});
