// PtySandbox options, validated with zod: a wrong option is a clear error at construction.

import { z } from 'zod';

export type PolicyDecision = { decision: 'allow' | 'deny' | 'checkpoint'; reason?: string };
export type Policy = (cmd: { command: string; args: string[]; line: string }) => PolicyDecision | PolicyDecision['decision'] | undefined;

const schema = z
  .object({
    id: z.string().min(1).optional(),
    /** Where commands run and mounts appear (default: a fresh 0700 temp dir, removed on destroy). */
    workingDirectory: z.string().min(1).optional(),
    /** Extra variables for every command. */
    env: z.record(z.string(), z.string()).optional(),
    /** Host variables passed through by name (nothing else is inherited). */
    inheritEnvNames: z.array(z.string()).optional(),
    /** Pass the whole host environment (off by default). */
    inheritEnv: z.boolean().optional(),
    /** SIGTERM-to-SIGKILL grace on timeout, in ms. */
    killGraceMs: z.number().int().nonnegative().optional(),
    /** Default cap on retained output per stream (bytes). */
    maxRetainedBytes: z.number().int().positive().optional(),
    isolation: z.enum(['none', 'bwrap']).optional(),
    /**
     * Fork commands from a small helper process (default), so that fork cost does not grow with the
     * workspace held here; false forks from this process.
     */
    spawner: z.boolean().optional(),
    /** Serve every mount in sync mode, even where FUSE works. */
    syncMode: z.boolean().optional(),
    /** Program names allowed (when set, nothing else runs). */
    allow: z.array(z.string()).optional(),
    /** Program names (or 'prefix*' command lines) denied. */
    deny: z.array(z.string()).optional(),
    /** Decides per command: allow, deny (nothing runs) or checkpoint-then-run. */
    policy: z.custom<Policy>((v) => typeof v === 'function', 'policy must be a function').optional(),
  })
  .strict();

export type PtySandboxOptions = z.input<typeof schema>;

export function parseSandboxOptions(options: unknown): z.output<typeof schema> {
  const parsed = schema.safeParse(options);
  if (!parsed.success) {
    const issues = parsed.error.issues.map((i) => `${i.path.join('.') || '(options)'}: ${i.message}`).join('; ');
    throw new TypeError(`PtySandbox: invalid options: ${issues}`);
  }
  return parsed.data;
}
