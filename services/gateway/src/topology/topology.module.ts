import { Module } from '@nestjs/common';
import { TopologyHttpController } from './topology.http.controller';

/**
 * The topology routes. An upload's body is read by `TopologyBodyMiddleware` as JSON or YAML; the
 * app module applies it after the audit middleware, in place of its JSON middleware, on that route.
 */
@Module({ controllers: [TopologyHttpController] })
export class TopologyModule {}
