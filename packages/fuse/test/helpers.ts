import { spawn } from 'node:child_process';

export interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/**
 * Runs a shell script asynchronously with cwd '/' and the mount path in $M. The process serving the
 * mount must never spawn with its cwd or binary inside the mount (that deadlocks): `cd` happens in
 * the script, after exec.
 */
export function sh(script: string, env: Record<string, string> = {}, timeoutMs = 60_000): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn('bash', ['-euo', 'pipefail', '-c', script], {
      cwd: '/',
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: '/tmp', LANG: 'C.UTF-8', GIT_CONFIG_NOSYSTEM: '1', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`script timed out after ${timeoutMs} ms: ${script}\n${stdout}\n${stderr}`));
    }, timeoutMs);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/** Like sh, but fails with the output when the script exits non-zero. */
export async function ok(script: string, env: Record<string, string> = {}): Promise<string> {
  const r = await sh(script, env);
  if (r.code !== 0) throw new Error(`exit ${r.code}: ${script}\n--- stdout\n${r.stdout}\n--- stderr\n${r.stderr}`);
  return r.stdout;
}

export const GIT = 'git -c user.name=vws -c user.email=vws@example.com -c init.defaultBranch=main -c advice.detachedHead=false';
