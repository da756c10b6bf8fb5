import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';

/** The control plane's manifest signing key, kept once in the database so every instance shares it. */
@Injectable()
export class SigningKeyRepository {
  constructor(@InjectDataSource() private readonly db: DataSource) {}

  /** Stores `pem` unless a key exists already; returns the key that is stored (first writer wins). */
  async getOrInsert(pem: string): Promise<string> {
    await this.db.query(`INSERT INTO tasks.signing_key (id, private_key_pem) VALUES (1, $1) ON CONFLICT (id) DO NOTHING`, [pem]);
    const [row] = await this.db.query(`SELECT private_key_pem FROM tasks.signing_key WHERE id = 1`);
    return row.private_key_pem as string;
  }
}
