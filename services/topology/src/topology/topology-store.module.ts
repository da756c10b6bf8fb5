import { Injectable, Module } from '@nestjs/common';
import { ReadinessService } from '@fleetcast/service-kit';
import { CurrentTopology } from './current-topology';
import { TopologyRepository } from './topology.repository';

/** Readiness includes the database: an instance that cannot reach it takes no traffic. */
@Injectable()
export class DatabaseReadiness {
  constructor(readiness: ReadinessService, repository: TopologyRepository) {
    readiness.register('database', () => repository.ping());
  }
}

/** Versions and the current topology, for the modules that read it (placement) and the one that writes it. */
@Module({ providers: [TopologyRepository, CurrentTopology, DatabaseReadiness], exports: [TopologyRepository, CurrentTopology] })
export class TopologyStoreModule {}
