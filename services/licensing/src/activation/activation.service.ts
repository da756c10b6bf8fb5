import { Inject, Injectable } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import { Activation, ErrorCode, FleetcastError } from '@fleetcast/contracts';
import { LOGGER } from '@fleetcast/service-kit';
import type { Logger } from '@fleetcast/telemetry';
import { initialSteps } from './activation-steps';
import { ActivationRepository, StoredActivation } from './activation.repository';
import { ActivationRunner } from './activation.runner';

/** Starting an activation (one at a time) and reading its progress. */
@Injectable()
export class ActivationService {
  constructor(
    @Inject(LOGGER) private readonly logger: Logger,
    private readonly activations: ActivationRepository,
    private readonly runner: ActivationRunner,
  ) {}

  /** A new activation, or the one running: starting twice never runs two. */
  async start(request: { startedBy: string; originAddresses?: string[] }): Promise<Activation> {
    for (let attempt = 0; attempt < 3; attempt++) {
      const created = await this.activations.insertRunning({ id: randomUUID(), startedBy: request.startedBy, originAddresses: request.originAddresses ?? null, steps: initialSteps() });
      if (created !== null) {
        this.logger.info({ activationId: created.id, startedBy: created.startedBy }, 'activation started');
        this.runner.kick();
        return publicView(created);
      }
      const running = await this.activations.running();
      if (running !== null) return publicView(running);
      // It finished between the two statements: start a new one.
    }
    throw new FleetcastError(ErrorCode.Conflict, 'activations kept starting and finishing meanwhile: try again');
  }

  async get(id: string | undefined): Promise<Activation> {
    const found = id === undefined ? await this.activations.latest() : await this.activations.find(id);
    if (found === null) throw new FleetcastError(ErrorCode.NotFound, id === undefined ? 'no activation was ever started' : `activation ${id} not found`);
    return publicView(found);
  }
}

function publicView(a: StoredActivation): Activation {
  const { originAddresses: _o, progress: _p, ...view } = a;
  return view;
}
