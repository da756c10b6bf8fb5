import { MigrationInterface, QueryRunner } from 'typeorm';
import { loadSigningKey, publicKeyDerOf } from '@fleetcast/content';

/**
 * Signing keys with a life cycle, for key rotation: one `active` key signs manifests and
 * assignments; `retiring` keys (replaced by a rotation) still verify on devices during the overlap;
 * `retired` ones are trusted no more. Each key after the first carries the endorsement of the key
 * that was active when it was made, which is how devices that pin the older key come to trust it.
 * The single key of `tasks.signing_key` becomes the active key, so nothing signed so far changes.
 * `down` keeps only the active key (the older table holds one): retiring and retired keys and the
 * endorsements are lost.
 */
export class SigningKeys1764115200000 implements MigrationInterface {
  name = 'SigningKeys1764115200000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE tasks.signing_keys (
        key_id text PRIMARY KEY,
        -- Dropped when the key is retired: nothing needs it any more, and a key that is not kept cannot leak.
        private_key_pem text,
        public_key_der bytea NOT NULL,
        state text NOT NULL CHECK (state IN ('active', 'retiring', 'retired')),
        created_at timestamptz NOT NULL DEFAULT now(),
        retiring_at timestamptz,
        retired_at timestamptz,
        endorsed_by text REFERENCES tasks.signing_keys (key_id),
        endorsement_not_before timestamptz,
        endorsement_expires_at timestamptz,
        endorsement_signature bytea,
        CHECK ((endorsed_by IS NULL) = (endorsement_signature IS NULL)),
        CHECK (state = 'retired' OR private_key_pem IS NOT NULL)
      )`);
    // Exactly one key signs; two instances making the first key at once cannot both win.
    await q.query(`CREATE UNIQUE INDEX signing_keys_one_active ON tasks.signing_keys (state) WHERE state = 'active'`);
    const rows: Array<{ private_key_pem: string; created_at: Date }> = await q.query(`SELECT private_key_pem, created_at FROM tasks.signing_key WHERE id = 1`);
    for (const row of rows) {
      const key = loadSigningKey(row.private_key_pem);
      await q.query(`INSERT INTO tasks.signing_keys (key_id, private_key_pem, public_key_der, state, created_at) VALUES ($1, $2, $3, 'active', $4)`, [
        key.keyId,
        row.private_key_pem,
        Buffer.from(publicKeyDerOf(key.publicKey)),
        row.created_at,
      ]);
    }
    await q.query(`DROP TABLE tasks.signing_key`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE tasks.signing_key (
        id integer PRIMARY KEY CHECK (id = 1),
        private_key_pem text NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now()
      )`);
    await q.query(`INSERT INTO tasks.signing_key (id, private_key_pem, created_at) SELECT 1, private_key_pem, created_at FROM tasks.signing_keys WHERE state = 'active'`);
    await q.query(`DROP TABLE tasks.signing_keys`);
  }
}
