// Schema migrations, applied in order under an advisory lock so that workers starting together do not
// race. Each migration runs once per schema; the applied versions are recorded in `migrations`.

import type { PoolClient } from 'pg';

/** Every statement uses {s} for the quoted schema name. */
export const MIGRATIONS: string[][] = [
  [
    `CREATE TABLE {s}.chunks (
       hash bytea PRIMARY KEY,
       data bytea NOT NULL,
       created_at timestamptz NOT NULL DEFAULT now())`,
    `CREATE TABLE {s}.checkpoints (
       id uuid PRIMARY KEY,
       workspace text NOT NULL,
       parent uuid REFERENCES {s}.checkpoints(id),
       depth int NOT NULL,
       manifest bytea NOT NULL,
       manifest_hash bytea NOT NULL,
       refs int NOT NULL,
       created_at timestamptz NOT NULL DEFAULT now())`,
    `CREATE INDEX ON {s}.checkpoints (parent)`,
    // Which chunks each manifest references: what keeps a chunk alive, and what a restore fetches.
    `CREATE TABLE {s}.checkpoint_chunks (
       checkpoint uuid NOT NULL REFERENCES {s}.checkpoints(id) ON DELETE CASCADE,
       hash bytea NOT NULL REFERENCES {s}.chunks(hash),
       PRIMARY KEY (checkpoint, hash))`,
    `CREATE INDEX ON {s}.checkpoint_chunks (hash)`,
    `CREATE TABLE {s}.workspaces (
       id text PRIMARY KEY,
       head uuid REFERENCES {s}.checkpoints(id),
       created_at timestamptz NOT NULL DEFAULT now())`,
    `CREATE INDEX ON {s}.workspaces (head)`,
    `CREATE TABLE {s}.names (
       workspace text NOT NULL REFERENCES {s}.workspaces(id) ON DELETE CASCADE,
       name text NOT NULL,
       checkpoint uuid NOT NULL REFERENCES {s}.checkpoints(id),
       PRIMARY KEY (workspace, name))`,
    `CREATE INDEX ON {s}.names (checkpoint)`,
    `CREATE TABLE {s}.leases (
       workspace text PRIMARY KEY,
       holder text NOT NULL,
       token uuid NOT NULL,
       expires_at timestamptz NOT NULL)`,
  ],
];

export const quoteIdent = (name: string): string => `"${name.replaceAll('"', '""')}"`;

export async function migrate(client: PoolClient, schema: string): Promise<void> {
  const s = quoteIdent(schema);
  await client.query('BEGIN');
  try {
    // One migrator per schema at a time, across every process and machine.
    await client.query('SELECT pg_advisory_xact_lock(hashtext($1))', [`vws-store-migrate:${schema}`]);
    await client.query(`CREATE SCHEMA IF NOT EXISTS ${s}`);
    await client.query(`CREATE TABLE IF NOT EXISTS ${s}.migrations (version int PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())`);
    const { rows } = await client.query(`SELECT coalesce(max(version), 0) AS v FROM ${s}.migrations`);
    for (let v = Number(rows[0].v); v < MIGRATIONS.length; v++) {
      for (const sql of MIGRATIONS[v]) await client.query(sql.replaceAll('{s}', s));
      await client.query(`INSERT INTO ${s}.migrations (version) VALUES ($1)`, [v + 1]);
    }
    await client.query('COMMIT');
  } catch (e) {
    await client.query('ROLLBACK').catch(() => {});
    throw e;
  }
}
