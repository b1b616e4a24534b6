// Constructor options, validated with zod so a wrong option is a clear error at construction.

import { InodeFs } from '@vws/inode-fs';
import { z } from 'zod';

type InstructionsFn = (opts: { defaultInstructions: string; requestContext?: unknown }) => string;
type LifecycleHook = (args: { filesystem: unknown }) => void | Promise<void>;

const schema = z
  .object({
    id: z.string().min(1).optional(),
    /** An existing engine to serve (shared with a FUSE mount or another provider); else a new one. */
    fs: z.instanceof(InodeFs).optional(),
    /** Initial files: path -> content. */
    files: z.record(z.string(), z.union([z.string(), z.instanceof(Uint8Array)])).optional(),
    readOnly: z.boolean().optional(),
    quota: z.object({ bytes: z.number().int().positive().optional(), inodes: z.number().int().positive().optional() }).strict().optional(),
    clock: z.custom<() => bigint>((v) => typeof v === 'function', 'clock must be a function returning bigint nanoseconds').optional(),
    uid: z.number().int().nonnegative().optional(),
    gid: z.number().int().nonnegative().optional(),
    /** Replaces the default instructions (a string), or derives them from the default (a function), as Mastra's providers do. */
    instructions: z.union([z.string(), z.custom<InstructionsFn>((v) => typeof v === 'function', 'instructions must be a string or a function')]).optional(),
    /** Mastra's lifecycle callbacks: after init, before destroy. */
    onInit: z.custom<LifecycleHook>((v) => typeof v === 'function', 'onInit must be a function').optional(),
    onDestroy: z.custom<LifecycleHook>((v) => typeof v === 'function', 'onDestroy must be a function').optional(),
    /** Extra extensions to treat as text (grep, read_file), as Mastra's textExtensions. */
    textExtensions: z.array(z.string().min(1)).optional(),
    displayName: z.string().optional(),
    description: z.string().optional(),
  })
  .strict();

export type InodeFilesystemOptions = z.input<typeof schema>;

export function parseOptions(options: unknown): z.output<typeof schema> {
  const parsed = schema.safeParse(options);
  if (!parsed.success) {
    const issues = parsed.error.issues.map((i) => `${i.path.join('.') || '(options)'}: ${i.message}`).join('; ');
    throw new TypeError(`InodeFilesystem: invalid options: ${issues}`);
  }
  return parsed.data;
}
