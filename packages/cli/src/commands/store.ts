// `vws store`: a vault's tree to and from a shared store (Postgres, at $VWS_STORE), so a workspace
// saved on one machine resumes on another. push saves the tree as the workspace's next checkpoint
// (only the chunks the store lacks travel), pull makes or replaces a local vault from a checkpoint.
// The store packages (and pg) load only when one of these commands runs.
import { hostname } from 'node:os';
import type { Command } from 'commander';
import pc from 'picocolors';
import { Vault, VaultError } from '../vault-store.js';
import type { Ctx } from './extra.js';

async function connect() {
  const url = process.env.VWS_STORE;
  if (!url) throw new VaultError('VWS_STORE is not set: export VWS_STORE=postgres://user:password@host:port/database', 2);
  const { PostgresStore } = await import('@vws/store-postgres');
  return PostgresStore.connect({ connectionString: url, schema: process.env.VWS_STORE_SCHEMA || 'vws' });
}

/** Store errors as vws exit codes: 2 usage/config, 3 not found, 4 damaged, 5 held or conflicting. */
function asVaultError(e: unknown): unknown {
  const name = (e as Error)?.name;
  const code = { StoreConfigError: 2, NotFoundError: 3, ChunkHashMismatchError: 4, ManifestHashMismatchError: 4, MissingChunkError: 4, LeaseHeldError: 5, LeaseLostError: 5, HeadConflictError: 5 }[name ?? ''];
  return code ? new VaultError((e as Error).message, code) : e;
}

async function withStore<T>(fn: (store: Awaited<ReturnType<typeof connect>>) => Promise<T>): Promise<T> {
  const store = await connect().catch((e) => Promise.reject(asVaultError(e)));
  try {
    return await fn(store);
  } catch (e) {
    throw asVaultError(e);
  } finally {
    await store.close();
  }
}

export function registerStore(program: Command, ctx: Pick<Ctx, 'print' | 'vaultName'>): void {
  const store = program.command('store').description('push vaults to and pull them from the store at $VWS_STORE (postgres://...)');
  store
    .command('push [workspace]')
    .description("save the vault's tree as the workspace's next checkpoint (default workspace: the vault's name)")
    .option('--name <checkpoint>', 'also name the checkpoint')
    .action((workspace: string | undefined, opts: { name?: string }) =>
      withStore(async (s) => {
        const { openFromStore } = await import('@vws/store');
        const vault = Vault.open(ctx.vaultName());
        const id = workspace ?? vault.name;
        const tree = await vault.locked(() => vault.load());
        await tree.prefetch(); // the other store has none of its chunks: every byte goes
        const ws = await openFromStore(s, id, { lease: { holder: `vws@${hostname()}:${process.pid}` } });
        try {
          ws.engine.reset(tree);
          const r = await ws.save({ name: opts.name });
          const doc = { workspace: id, checkpoint: r.checkpoint.id, kind: r.kind, chunksSent: r.chunksSent, bytesSent: r.chunkBytesSent + r.manifestBytes };
          ctx.print(doc, () => `pushed ${pc.bold(vault.name)} to ${pc.bold(id)}: checkpoint ${r.checkpoint.id} (${r.chunksSent} new chunks, ${doc.bytesSent} bytes sent)`);
        } finally {
          await ws.close();
        }
      }),
    );
  store
    .command('pull <workspace>')
    .description('make (or replace) a local vault from the workspace head, or --checkpoint')
    .option('--checkpoint <nameOrId>', 'a named checkpoint or checkpoint id instead of the head')
    .option('--into <vault>', 'the local vault (default: the workspace id)')
    .action((workspace: string, opts: { checkpoint?: string; into?: string }) =>
      withStore(async (s) => {
        const { openFromStore } = await import('@vws/store');
        // A vault holds every byte: fetch the whole tree at open (batched), not file by file.
        const ws = await openFromStore(s, workspace, { checkpoint: opts.checkpoint, lazy: false });
        if (!ws.head) throw new VaultError(`the store has no workspace '${workspace}'`, 3);
        const name = opts.into ?? workspace;
        Vault.checkName(name);
        if (Vault.list().includes(name)) {
          const vault = Vault.open(name);
          await vault.locked(() => vault.save(ws.engine));
        } else Vault.create(name, ws.engine);
        ctx.print({ vault: name, workspace, checkpoint: ws.head.id, fingerprint: ws.engine.fingerprint() }, () => `pulled ${pc.bold(workspace)} (checkpoint ${ws.head!.id}) into vault ${pc.bold(name)}`);
      }),
    );
  store
    .command('gc')
    .description('delete checkpoints nothing retains (not a head, not named) and chunks nothing references, older than --retain-ms')
    .option('--retain-ms <ms>', 'keep anything younger than this (default: 7 days)', String(7 * 24 * 3600 * 1000))
    .action((opts: { retainMs: string }) =>
      withStore(async (s) => {
        const retainMs = Number(opts.retainMs);
        if (!Number.isFinite(retainMs) || retainMs < 0) throw new VaultError(`--retain-ms must be a number of milliseconds >= 0, got '${opts.retainMs}'`, 2);
        const r = await s.gc({ retainMs });
        ctx.print(r, () => `deleted ${r.checkpoints} checkpoints and ${r.chunks} chunks (${r.bytes} bytes)`);
      }),
    );
  store
    .command('list')
    .description('workspaces in the store, with their head checkpoint')
    .action(() =>
      withStore(async (s) => {
        const rows: Array<{ workspace: string; head: string | null; savedAt: string | null }> = [];
        for (const id of await s.workspaces()) {
          const head = await s.head(id);
          rows.push({ workspace: id, head: head?.id ?? null, savedAt: head?.createdAt.toISOString() ?? null });
        }
        ctx.print({ workspaces: rows }, () => rows.map((r) => `${r.workspace}\t${r.head ?? '-'}\t${r.savedAt ?? ''}`).join('\n'));
      }),
    );
}
