import { MigrationInterface, QueryRunner } from 'typeorm';
import { createOutboxTable, dropOutboxTable } from '@fleetcast/persistence';
import { DEFAULT_AGENT_SETTINGS } from '@fleetcast/contracts';

export class Initial1763769600000 implements MigrationInterface {
  name = 'Initial1763769600000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE tasks.packages (
        id text PRIMARY KEY,
        name text NOT NULL,
        version text NOT NULL,
        platform text NOT NULL,
        install_command text NOT NULL,
        install_args jsonb NOT NULL,
        success_exit_codes jsonb NOT NULL,
        timeout_seconds integer NOT NULL,
        status text NOT NULL,
        content_id text,
        size bigint,
        block_size integer,
        block_hashes bytea,
        key_id text,
        signature bytea,
        created_at timestamptz NOT NULL DEFAULT now()
      )`);
    await q.query(`CREATE INDEX packages_content_id ON tasks.packages (content_id)`);
    await q.query(`
      CREATE TABLE tasks.profiles (
        id text PRIMARY KEY,
        name text NOT NULL,
        is_default boolean NOT NULL DEFAULT false,
        use_multicast boolean NOT NULL,
        session_start_delay_seconds integer NOT NULL,
        peer_download_allowed boolean NOT NULL,
        lan_rate_limit_kbps integer,
        cache_size_limit_bytes bigint,
        updated_at timestamptz NOT NULL DEFAULT now()
      )`);
    // Exactly one default profile.
    await q.query(`CREATE UNIQUE INDEX profiles_one_default ON tasks.profiles (is_default) WHERE is_default`);
    const d = DEFAULT_AGENT_SETTINGS;
    await q.query(
      `INSERT INTO tasks.profiles (id, name, is_default, use_multicast, session_start_delay_seconds, peer_download_allowed, lan_rate_limit_kbps, cache_size_limit_bytes)
       VALUES ('default', 'Default', true, $1, $2, $3, $4, $5)`,
      [d.useMulticast, d.sessionStartDelaySeconds, d.peerDownloadAllowed, d.lanRateLimitKbps, d.cacheSizeLimitBytes],
    );
    await q.query(`
      CREATE TABLE tasks.tasks (
        id text PRIMARY KEY,
        name text NOT NULL,
        package_id text NOT NULL REFERENCES tasks.packages (id),
        action text NOT NULL,
        status text NOT NULL,
        profile_id text REFERENCES tasks.profiles (id),
        start_at timestamptz NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now()
      )`);
    await q.query(`CREATE INDEX tasks_scheduled ON tasks.tasks (start_at) WHERE status = 'scheduled'`);
    await q.query(`
      CREATE TABLE tasks.device_tasks (
        task_id text NOT NULL REFERENCES tasks.tasks (id) ON DELETE CASCADE,
        device_id text NOT NULL,
        subnet text,
        state text NOT NULL,
        seq integer NOT NULL DEFAULT 0,
        reason jsonb,
        bytes_origin bigint NOT NULL DEFAULT 0,
        bytes_multicast bigint NOT NULL DEFAULT 0,
        bytes_peer bigint NOT NULL DEFAULT 0,
        hash_verified boolean NOT NULL DEFAULT false,
        exit_code integer,
        output_tail text,
        sent_at timestamptz,
        updated_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (task_id, device_id)
      )`);
    await q.query(`CREATE INDEX device_tasks_pending ON tasks.device_tasks (sent_at) WHERE state = 'pending'`);
    await q.query(`
      CREATE TABLE tasks.signing_key (
        id integer PRIMARY KEY CHECK (id = 1),
        private_key_pem text NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now()
      )`);
    await createOutboxTable(q, 'tasks');
  }

  async down(q: QueryRunner): Promise<void> {
    await dropOutboxTable(q, 'tasks');
    await q.query(`DROP TABLE tasks.signing_key`);
    await q.query(`DROP TABLE tasks.device_tasks`);
    await q.query(`DROP TABLE tasks.tasks`);
    await q.query(`DROP TABLE tasks.profiles`);
    await q.query(`DROP TABLE tasks.packages`);
  }
}
