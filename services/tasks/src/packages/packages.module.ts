import { Module } from '@nestjs/common';
import { PackagesNatsController } from './packages.nats.controller';
import { PackagesRepository } from './packages.repository';
import { PackagesService } from './packages.service';
import { SigningKeyRepository } from './signing-key.repository';
import { SigningKeyService } from './signing-key.service';

@Module({
  controllers: [PackagesNatsController],
  providers: [PackagesRepository, PackagesService, SigningKeyRepository, SigningKeyService],
  exports: [PackagesService, PackagesRepository, SigningKeyService],
})
export class PackagesModule {}
