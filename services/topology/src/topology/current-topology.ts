import { Injectable } from '@nestjs/common';
import type { Queryable } from '@fleetcast/persistence';
import { TopologyModel } from '../core/topology-model';
import { TopologyRepository, VersionRow } from './topology.repository';

export interface CurrentTopologyView {
  version: VersionRow;
  model: TopologyModel;
}

/**
 * The current version, indexed. Each question reads the current version number (one row) and
 * builds the model only when it changed, so instances that share the database agree at once
 * without any cache invalidation message.
 */
@Injectable()
export class CurrentTopology {
  private cached?: CurrentTopologyView;

  constructor(private readonly repository: TopologyRepository) {}

  /** The current topology, or null when none was uploaded; `db` reads within a caller's transaction. */
  async get(db?: Queryable): Promise<CurrentTopologyView | null> {
    const version = await this.repository.currentVersion(db);
    if (version === null) return null;
    if (this.cached?.version.version !== version) {
      const view = await this.load(version, db);
      if (!view) return null;
      this.cached = view;
    }
    return this.cached;
  }

  /** A given version, indexed: from the cache when it is the current one. */
  async at(version: number, db?: Queryable): Promise<CurrentTopologyView | null> {
    return this.cached?.version.version === version ? this.cached : this.load(version, db);
  }

  private async load(version: number, db?: Queryable): Promise<CurrentTopologyView | null> {
    const row = await this.repository.version(version, db);
    return row ? { version: row, model: new TopologyModel(row.document) } : null;
  }
}
