import { Inject, Injectable } from '@nestjs/common';
import { exportPrivateKeyPem, generateSigningKey, loadSigningKey, SigningKeyPair } from '@fleetcast/content';
import { TASKS_CONFIG, TasksConfig } from '../config/tasks.config';
import { SigningKeyRepository } from './signing-key.repository';

/**
 * Holds the Ed25519 key that signs package manifests. From config when given; otherwise generated
 * on first use and stored, so restarts and other instances sign with the same key.
 */
@Injectable()
export class SigningKeyService {
  private key?: Promise<SigningKeyPair>;

  constructor(
    @Inject(TASKS_CONFIG) private readonly config: TasksConfig,
    private readonly repository: SigningKeyRepository,
  ) {}

  get(): Promise<SigningKeyPair> {
    this.key ??= this.load();
    return this.key;
  }

  private async load(): Promise<SigningKeyPair> {
    if (this.config.signingKeyPem) return loadSigningKey(this.config.signingKeyPem);
    const pem = await this.repository.getOrInsert(exportPrivateKeyPem(generateSigningKey()));
    return loadSigningKey(pem);
  }
}
