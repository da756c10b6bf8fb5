import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The webhooks service's first schema: subscriptions; one delivery per (subscription, event), unique
 * so that an event taken in twice (a redelivery from JetStream after a crash) makes no second one;
 * and the log of every attempt.
 */
export class Initial1796400000000 implements MigrationInterface {
  readonly name = 'Initial1796400000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
      CREATE TABLE webhooks.subscriptions (
        id uuid PRIMARY KEY,
        url text NOT NULL,
        events text[] NOT NULL,
        secret text NOT NULL,
        enabled boolean NOT NULL,
        description text,
        created_at timestamptz NOT NULL DEFAULT now(),
        updated_at timestamptz NOT NULL DEFAULT now(),
        deleted_at timestamptz
      )`);
    await queryRunner.query(`
      CREATE TABLE webhooks.deliveries (
        id uuid PRIMARY KEY,
        subscription_id uuid NOT NULL REFERENCES webhooks.subscriptions (id),
        event_id text NOT NULL,
        event_type text NOT NULL,
        payload jsonb NOT NULL,
        state text NOT NULL CONSTRAINT deliveries_state_check CHECK (state IN ('pending', 'delivered', 'dead')),
        attempts integer NOT NULL DEFAULT 0,
        next_attempt_at timestamptz,
        locked_until timestamptz,
        last_status integer,
        last_error text,
        created_at timestamptz NOT NULL DEFAULT now(),
        retry_from timestamptz NOT NULL DEFAULT now(),
        delivered_at timestamptz,
        CONSTRAINT deliveries_one_per_event UNIQUE (subscription_id, event_id)
      )`);
    // The workers' query: due pending deliveries, oldest first.
    await queryRunner.query(`CREATE INDEX deliveries_due_idx ON webhooks.deliveries (next_attempt_at) WHERE state = 'pending'`);
    await queryRunner.query(`CREATE INDEX deliveries_subscription_idx ON webhooks.deliveries (subscription_id, created_at DESC)`);
    await queryRunner.query(`
      CREATE TABLE webhooks.attempts (
        id bigserial PRIMARY KEY,
        delivery_id uuid NOT NULL REFERENCES webhooks.deliveries (id) ON DELETE CASCADE,
        at timestamptz NOT NULL DEFAULT now(),
        status integer,
        error text,
        duration_ms integer NOT NULL
      )`);
    await queryRunner.query(`CREATE INDEX attempts_delivery_idx ON webhooks.attempts (delivery_id, id)`);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP TABLE webhooks.attempts`);
    await queryRunner.query(`DROP TABLE webhooks.deliveries`);
    await queryRunner.query(`DROP TABLE webhooks.subscriptions`);
  }
}
