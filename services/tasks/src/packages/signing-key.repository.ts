import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { queryRows } from '@fleetcast/persistence';
import { SigningKeyState } from '@fleetcast/contracts';
import { DataSource, EntityManager } from 'typeorm';

/** One control-plane signing key as stored (its private half never leaves this service). */
export interface SigningKeyRecord {
  keyId: string;
  /** PKCS#8 PEM; null once the key is retired (it is deleted then). */
  privateKeyPem: string | null;
  publicKeyDer: Buffer;
  state: SigningKeyState;
  createdAt: Date;
  retiringAt: Date | null;
  retiredAt: Date | null;
  /** The endorsement by the key that was active when this one was made; null for the first key. */
  endorsement: { endorsedBy: string; notBefore: Date; expiresAt: Date; signature: Buffer } | null;
}

interface Row {
  key_id: string;
  private_key_pem: string | null;
  public_key_der: Buffer;
  state: SigningKeyState;
  created_at: Date;
  retiring_at: Date | null;
  retired_at: Date | null;
  endorsed_by: string | null;
  endorsement_not_before: Date | null;
  endorsement_expires_at: Date | null;
  endorsement_signature: Buffer | null;
}

const toRecord = (r: Row): SigningKeyRecord => ({
  keyId: r.key_id,
  privateKeyPem: r.private_key_pem,
  publicKeyDer: r.public_key_der,
  state: r.state,
  createdAt: r.created_at,
  retiringAt: r.retiring_at,
  retiredAt: r.retired_at,
  endorsement:
    r.endorsed_by === null || r.endorsement_signature === null
      ? null
      : { endorsedBy: r.endorsed_by, notBefore: r.endorsement_not_before!, expiresAt: r.endorsement_expires_at!, signature: r.endorsement_signature },
});

const COLUMNS = `key_id, private_key_pem, public_key_der, state, created_at, retiring_at, retired_at, endorsed_by, endorsement_not_before, endorsement_expires_at, endorsement_signature`;

/** The control plane's signing keys, kept in the database so that every instance signs with the same active key. */
@Injectable()
export class SigningKeyRepository {
  constructor(@InjectDataSource() private readonly db: DataSource) {}

  transaction<T>(fn: (m: EntityManager) => Promise<T>): Promise<T> {
    return this.db.transaction(fn);
  }

  /** Every key, newest first. */
  async all(m: EntityManager = this.db.manager): Promise<SigningKeyRecord[]> {
    return (await queryRows<Row>(m, `SELECT ${COLUMNS} FROM tasks.signing_keys ORDER BY created_at DESC, key_id`)).map(toRecord);
  }

  /** Stores `key` as the active key if there is no key at all (first writer wins; the others' inserts do nothing). */
  async insertFirst(key: { keyId: string; privateKeyPem: string; publicKeyDer: Buffer }): Promise<void> {
    await this.db.query(
      `INSERT INTO tasks.signing_keys (key_id, private_key_pem, public_key_der, state)
       SELECT $1, $2, $3, 'active' WHERE NOT EXISTS (SELECT 1 FROM tasks.signing_keys) ON CONFLICT DO NOTHING`,
      [key.keyId, key.privateKeyPem, key.publicKeyDer],
    );
  }

  /** Holds off other rotations and retirements until the caller's transaction ends (they read, then change, the whole set). */
  async lock(m: EntityManager): Promise<void> {
    await m.query(`LOCK TABLE tasks.signing_keys IN SHARE ROW EXCLUSIVE MODE`);
  }

  async markRetiring(m: EntityManager, keyId: string, at: Date): Promise<void> {
    await m.query(`UPDATE tasks.signing_keys SET state = 'retiring', retiring_at = $2 WHERE key_id = $1`, [keyId, at]);
  }

  /** Retires a key and deletes its private half: a retired key signs nothing again. */
  async markRetired(m: EntityManager, keyId: string, at: Date): Promise<void> {
    await m.query(`UPDATE tasks.signing_keys SET state = 'retired', retired_at = $2, private_key_pem = NULL WHERE key_id = $1`, [keyId, at]);
  }

  async insertEndorsed(
    m: EntityManager,
    key: Omit<SigningKeyRecord, 'state' | 'retiringAt' | 'retiredAt' | 'privateKeyPem'> & { privateKeyPem: string; endorsement: NonNullable<SigningKeyRecord['endorsement']> },
  ): Promise<void> {
    const e = key.endorsement;
    await m.query(
      `INSERT INTO tasks.signing_keys (key_id, private_key_pem, public_key_der, state, created_at, endorsed_by, endorsement_not_before, endorsement_expires_at, endorsement_signature)
       VALUES ($1, $2, $3, 'active', $4, $5, $6, $7, $8)`,
      [key.keyId, key.privateKeyPem, key.publicKeyDer, key.createdAt, e.endorsedBy, e.notBefore, e.expiresAt, e.signature],
    );
  }
}
