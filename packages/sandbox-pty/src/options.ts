// PtySandbox options, validated with zod: a wrong option is a clear error at construction.

import { z } from 'zod';

export type PolicyDecision = { decision: 'allow' | 'deny' | 'checkpoint'; reason?: string };
export type Policy = (cmd: { command: string; args: string[]; line: string }) => PolicyDecision | PolicyDecision['decision'] | undefined;

const fn = <T>(name: string) => z.custom<T>((v) => typeof v === 'function', `${name} must be a function`);
type Hook = (args: { sandbox: unknown; outcome?: unknown }) => void | Promise<void>;
type InstructionsFn = (opts: { defaultInstructions: string; requestContext?: unknown }) => string;
/** As LocalSandbox: a name that is safe as a file name. */
const checkpointName = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]*$/, 'a checkpoint name is letters, digits, ".", "_" and "-" (starting with a letter or digit)').refine((n) => !n.includes('..'), 'a checkpoint name cannot contain ".."');

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
    /** Under isolation 'bwrap': host paths hidden from commands (an empty directory over each), besides $VWS_HOME and this process's cwd. */
    hidePaths: z.array(z.string().min(1)).optional(),
    /**
     * Program names allowed (when set, nothing else runs): every program a command line names, by name
     * or resolved executable. A guard against mistakes, not a boundary (a script or an interpreter can
     * still run anything).
     */
    allow: z.array(z.string()).optional(),
    /**
     * Program names or paths (or 'prefix*' command lines) denied: matched against every program a
     * command line names (`/usr/bin/curl`, `true; curl`, `env curl`, `command curl`), by name and by
     * resolved executable. Not a boundary without bubblewrap (a script, an interpreter or a copy of
     * the binary still runs it); under isolation 'bwrap' the resolved executables cannot be run at all.
     */
    deny: z.array(z.string()).optional(),
    /** Decides per command: allow, deny (nothing runs) or checkpoint-then-run. */
    policy: z.custom<Policy>((v) => typeof v === 'function', 'policy must be a function').optional(),
    // ---- Mastra's sandbox options (MastraSandboxOptions, LocalSandboxOptions), same meaning.
    /** After each start (fatal if it throws), before stop, before destroy. */
    onStart: fn<Hook>('onStart').optional(),
    onStop: fn<Hook>('onStop').optional(),
    onDestroy: fn<Hook>('onDestroy').optional(),
    /** Replaces the default instructions (string, '' for none) or derives them (function). */
    instructions: z.union([z.string(), fn<InstructionsFn>('instructions')]).optional(),
    /** Default per-command timeout in ms (none when unset; a command's own timeout wins). */
    timeout: z.number().int().positive().optional(),
    /** snapshot() saves the mounted InodeFilesystems under this name in checkpointsDirectory; start seeds empty mounts from it. */
    checkpointName: checkpointName.optional(),
    /** Seeds empty mounts when checkpointName has no saved checkpoint yet (boot only). */
    seedCheckpointName: checkpointName.optional(),
    /** Where named checkpoints are kept (default: `.checkpoints` beside the working directory). */
    checkpointsDirectory: z.string().min(1).optional(),
    /** Isolation settings under bubblewrap, as LocalSandbox's nativeSandbox. */
    nativeSandbox: z
      .object({
        allowNetwork: z.boolean().optional(),
        readOnlyPaths: z.array(z.string().min(1)).optional(),
        readWritePaths: z.array(z.string().min(1)).optional(),
      })
      .strict()
      .optional(),
    /**
     * stdin of processes started with processes.spawn: 'pipe' (default, as LocalSandbox: bytes arrive
     * unchanged, closeStdin() is end of file) or 'terminal' (the PTY, for programs that must see a
     * terminal on stdin; Ctrl-D is end of file). stdout is a terminal either way.
     */
    stdin: z.enum(['pipe', 'terminal']).optional(),
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
