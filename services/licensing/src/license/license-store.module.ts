import { Injectable, Module } from '@nestjs/common';
import { ReadinessService } from '@fleetcast/service-kit';
import { LicensesRepository } from './licenses.repository';

/** Readiness includes the database: an instance that cannot reach it takes no traffic. */
@Injectable()
export class DatabaseReadiness {
  constructor(readiness: ReadinessService, repository: LicensesRepository) {
    readiness.register('database', () => repository.ping());
  }
}

/** The licenses table, on its own so that seats (which read the active license) and the license feature both use it. */
@Module({ providers: [LicensesRepository, DatabaseReadiness], exports: [LicensesRepository] })
export class LicenseStoreModule {}
