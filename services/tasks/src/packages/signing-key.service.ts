import { Inject, Injectable } from '@nestjs/common';
import { EntityManager } from 'typeorm';
import { ErrorCode, FleetcastError, SigningKeyInfo, SigningKeySet } from '@fleetcast/contracts';
import { exportPrivateKeyPem, generateSigningKey, KeyEndorsement, loadSigningKey, publicKeyDerOf, signEndorsement, SigningKeyPair } from '@fleetcast/content';
import { LOGGER } from '@fleetcast/service-kit';
import type { Logger } from '@fleetcast/telemetry';
import { TASKS_CONFIG, TasksConfig } from '../config/tasks.config';
import { endorsementChain, ENDORSEMENT_VALIDITY_MS, keyInfo, pinnableKeys } from './signing-key.model';
import { SigningKeyRecord, SigningKeyRepository } from './signing-key.repository';

/** What signs an assignment: the active key, the endorsements that lead devices to it, and the keys retired so far. */
export interface AssignmentSigner {
  key: SigningKeyPair;
  endorsements: KeyEndorsement[];
  retiredKeyIds: string[];
}

/**
 * The control plane's Ed25519 keys, which sign package manifests and assignments. One is active at a
 * time; `rotate` makes a new one active, endorsed by the old, which turns `retiring` (devices still
 * accept it during the overlap); `retire` ends the overlap. The first key comes from SIGNING_KEY_PEM
 * when given, else it is generated; it is stored either way, so restarts and other instances sign
 * with the same key. The set is read from the database on each use: a rotation through one instance
 * holds at once for all.
 */
@Injectable()
export class SigningKeyService {
  /** Parsed private keys by ID (a stored key never changes). */
  private readonly parsed = new Map<string, SigningKeyPair>();
  private seeded?: Promise<void>;

  constructor(
    @Inject(TASKS_CONFIG) private readonly config: TasksConfig,
    @Inject(LOGGER) private readonly logger: Logger,
    private readonly repository: SigningKeyRepository,
  ) {}

  /** The active key. */
  async get(m?: EntityManager): Promise<SigningKeyPair> {
    return this.pair(activeOf(await this.records(m)));
  }

  async assignmentSigner(now: Date, m?: EntityManager): Promise<AssignmentSigner> {
    const records = await this.records(m);
    const active = activeOf(records);
    return {
      key: this.pair(active),
      endorsements: endorsementChain(records, active.keyId, now),
      retiredKeyIds: records.filter((k) => k.state === 'retired').map((k) => k.keyId),
    };
  }

  /** The keys a device pins: active first, then retiring. */
  async keySet(): Promise<SigningKeySet> {
    return { keys: pinnableKeys(await this.records()) };
  }

  async list(m?: EntityManager): Promise<SigningKeyInfo[]> {
    return (await this.records(m)).map(keyInfo);
  }

  /** A new active key, endorsed by the one it replaces; that one becomes `retiring`. */
  async rotate(now: Date): Promise<SigningKeyInfo[]> {
    await this.ensureFirstKey();
    return this.repository.transaction(async (m) => {
      await this.repository.lock(m);
      const current = this.pair(activeOf(await this.repository.all(m)));
      const next = generateSigningKey();
      const window = { notBefore: now, expiresAt: new Date(now.getTime() + ENDORSEMENT_VALIDITY_MS) };
      const endorsement = signEndorsement(next.publicKey, current, window);
      await this.repository.markRetiring(m, current.keyId, now);
      await this.repository.insertEndorsed(m, {
        keyId: next.keyId,
        privateKeyPem: exportPrivateKeyPem(next),
        publicKeyDer: Buffer.from(publicKeyDerOf(next.publicKey)),
        createdAt: now,
        endorsement: { endorsedBy: current.keyId, ...window, signature: Buffer.from(endorsement.signature) },
      });
      this.logger.info({ retiring: current.keyId, active: next.keyId }, 'signing key rotated');
      return (await this.repository.all(m)).map(keyInfo);
    });
  }

  /** Marks a retiring key retired, in the caller's transaction (which also signs its manifests again). */
  async retire(m: EntityManager, keyId: string, now: Date): Promise<void> {
    await this.ensureFirstKey();
    await this.repository.lock(m);
    const key = (await this.repository.all(m)).find((k) => k.keyId === keyId);
    if (!key) throw new FleetcastError(ErrorCode.SigningKeyNotFound, `no signing key ${keyId}`);
    if (key.state === 'retired') return;
    if (key.state !== 'retiring') throw new FleetcastError(ErrorCode.SigningKeyNotRetiring, `key ${keyId} is ${key.state}: rotate first, then retire the key the rotation replaced`);
    await this.repository.markRetired(m, keyId, now);
    this.logger.info({ retired: keyId }, 'signing key retired');
  }

  transaction<T>(fn: (m: EntityManager) => Promise<T>): Promise<T> {
    return this.repository.transaction(fn);
  }

  private async records(m?: EntityManager): Promise<SigningKeyRecord[]> {
    await this.ensureFirstKey();
    return this.repository.all(m);
  }

  private ensureFirstKey(): Promise<void> {
    this.seeded ??= this.insertFirstKey().catch((error) => {
      this.seeded = undefined; // try again on the next use (the database may come back)
      throw error;
    });
    return this.seeded;
  }

  private async insertFirstKey(): Promise<void> {
    const key = this.config.signingKeyPem ? loadSigningKey(this.config.signingKeyPem) : generateSigningKey();
    await this.repository.insertFirst({ keyId: key.keyId, privateKeyPem: exportPrivateKeyPem(key), publicKeyDer: Buffer.from(publicKeyDerOf(key.publicKey)) });
    if (this.config.signingKeyPem && !(await this.repository.all()).some((k) => k.keyId === key.keyId)) {
      this.logger.warn({ keyId: key.keyId }, 'SIGNING_KEY_PEM is not among the stored signing keys: it only seeds an empty key table, and the stored active key signs');
    }
  }

  private pair(record: SigningKeyRecord): SigningKeyPair {
    let pair = this.parsed.get(record.keyId);
    if (!pair) {
      if (record.privateKeyPem === null) throw new FleetcastError(ErrorCode.Internal, `signing key ${record.keyId} is retired and has no private key`);
      pair = loadSigningKey(record.privateKeyPem);
      this.parsed.set(record.keyId, pair);
    }
    return pair;
  }
}

function activeOf(records: readonly SigningKeyRecord[]): SigningKeyRecord {
  const active = records.find((k) => k.state === 'active');
  if (!active) throw new FleetcastError(ErrorCode.Internal, 'no active signing key');
  return active;
}
