import { Inject, Injectable, OnApplicationShutdown } from '@nestjs/common';
import {
  ActivationCompleted,
  ActivationCompletedV1,
  ActivationResult,
  ActivationStep,
  ActivationStepName,
  ErrorCode,
  FleetcastError,
  MAX_LISTED_MISSING_PACKAGES,
  TasksRpc,
  TopologyRpc,
} from '@fleetcast/contracts';
import { RpcClient } from '@fleetcast/nats';
import { LOGGER } from '@fleetcast/service-kit';
import type { Logger } from '@fleetcast/telemetry';
import { LICENSING_CONFIG, LicensingConfig } from '../config/licensing.config';
import { LicenseService } from '../license/license.service';
import { LicensingOutbox } from '../outbox/licensing-outbox.service';
import { ActivationProgress, nextStep, withStep } from './activation-steps';
import { ActivationRepository, StoredActivation } from './activation.repository';

/** Packages checked per request to the tasks service: each page is one stored step of progress. */
const CONTENT_PAGE = 50;

/** A step's outcome that another try may change (a service down): the step is tried again later. */
class RetryLater extends Error {}

/**
 * Runs activations. Every instance polls for a running activation whose lease has ended (none
 * holds it: it was just started, or its instance died) and takes it; it then runs the remaining
 * steps in order, storing each step's state and progress as it goes and extending the lease each
 * time. Killed half-way, the next instance (or this one restarted) resumes at the step it was in,
 * and each step is written so that doing it again changes nothing: the topology is uploaded only
 * when none exists, the content walk continues from its stored offset, devices are marked once.
 * `activation.completed` leaves through the outbox in the transaction that marks it completed.
 */
@Injectable()
export class ActivationRunner implements OnApplicationShutdown {
  private timer?: NodeJS.Timeout;
  private busy = false;
  private stopping = false;

  constructor(
    @Inject(LICENSING_CONFIG) private readonly config: Pick<LicensingConfig, 'ACTIVATION_POLL_MS' | 'ACTIVATION_LEASE_MS'>,
    @Inject(LOGGER) private readonly logger: Logger,
    private readonly activations: ActivationRepository,
    private readonly license: LicenseService,
    private readonly outbox: LicensingOutbox,
    private readonly rpc: RpcClient,
  ) {}

  start(): void {
    if (this.timer) return;
    this.timer = setInterval(() => this.kick(), this.config.ACTIVATION_POLL_MS);
    this.kick();
  }

  /** An activation was started: take it now rather than at the next poll. */
  kick(): void {
    if (this.busy || this.stopping) return;
    this.busy = true;
    void this.runOnce().finally(() => {
      this.busy = false;
    });
  }

  onApplicationShutdown(): void {
    this.stopping = true;
    clearInterval(this.timer);
  }

  private async runOnce(): Promise<void> {
    let activation: StoredActivation | null;
    try {
      activation = await this.activations.claim(this.config.ACTIVATION_LEASE_MS);
    } catch (error) {
      this.logger.warn({ err: (error as Error).message }, 'cannot look for a running activation');
      return;
    }
    if (activation === null) return;
    this.logger.info({ activationId: activation.id, steps: activation.steps.map((s) => `${s.name}:${s.state}`) }, 'running activation');
    try {
      await this.run(activation);
    } catch (error) {
      // Stored progress stays; the lease ends and a later poll resumes it.
      this.logger.warn({ activationId: activation.id, err: (error as Error).message }, 'activation interrupted; it resumes at its next poll');
    }
  }

  private async run(activation: StoredActivation): Promise<void> {
    let steps = activation.steps;
    const progress: ActivationProgress = { ...activation.progress };
    const save = async () => {
      if (!(await this.activations.save(activation.id, steps, progress, this.config.ACTIVATION_LEASE_MS))) throw new Error('the activation is no longer running');
    };
    for (let step = nextStep(steps); step !== null && !this.stopping; step = nextStep(steps)) {
      const name = step.name;
      steps = withStep(steps, name, { state: 'running', detail: step.state === 'running' ? 'resumed' : null });
      await save();
      try {
        const detail = await this.runStep(name, activation, progress, async (change) => {
          steps = withStep(steps, name, change);
          await save();
        });
        steps = withStep(steps, name, { state: 'done', detail, finishedAt: new Date().toISOString() });
        await save();
        this.logger.info({ activationId: activation.id, step: name, detail }, 'activation step done');
      } catch (error) {
        if (error instanceof RetryLater) {
          steps = withStep(steps, name, { detail: `waiting: ${error.message}` });
          await save();
          // Released, so that the next poll (of any instance) tries again, not only once the lease ends.
          await this.activations.release(activation.id);
          this.logger.warn({ activationId: activation.id, step: name, err: error.message }, 'activation step waits for a service; trying again at the next poll');
          return;
        }
        const failure = error instanceof FleetcastError ? { code: error.code, message: error.message } : { code: ErrorCode.Internal, message: (error as Error).message };
        steps = withStep(steps, name, { state: 'failed', detail: failure.message, finishedAt: new Date().toISOString() });
        await this.activations.transaction((m) => this.activations.finish(m, activation.id, { state: 'failed', steps, progress, result: null, error: failure }));
        this.logger.warn({ activationId: activation.id, step: name, ...failure }, 'activation failed');
        return;
      }
    }
    if (nextStep(steps) !== null) return;
    const result = resultOf(progress);
    const completedAt = new Date().toISOString();
    const finished = await this.activations.transaction(async (m) => {
      if (!(await this.activations.finish(m, activation.id, { state: 'completed', steps, progress, result, error: null }))) return false;
      const event: ActivationCompletedV1 = { activationId: activation.id, startedBy: activation.startedBy, result, completedAt };
      await this.outbox.enqueue(m, [{ subject: ActivationCompleted.subject(), payload: event }]);
      return true;
    });
    if (finished) {
      this.outbox.kick();
      this.logger.info({ activationId: activation.id, result }, 'activation completed');
    }
  }

  private async runStep(name: ActivationStepName, activation: StoredActivation, progress: ActivationProgress, report: (change: Partial<ActivationStep>) => Promise<void>): Promise<string> {
    switch (name) {
      case 'license': {
        const status = await this.license.status();
        if (status.state === 'none') throw new FleetcastError(ErrorCode.NoLicense, 'no license is installed: install one (PUT /v1/license), then activate again');
        if (status.state === 'expired') throw new FleetcastError(ErrorCode.LicenseExpired, `the license ${status.licenseId} expired at ${status.expiresAt}: install a current one, then activate again`);
        progress.licenseId = status.licenseId as string;
        return `license ${status.licenseId} (${status.customer}): ${status.used} of ${status.seats} seats used, ${status.state}`;
      }
      case 'topology':
        return this.topologyStep(activation, progress);
      case 'content':
        return this.contentStep(progress, report);
      case 'devices': {
        const { activated, active } = await this.activations.activateDevices(activation.id);
        progress.devicesActivated = activated;
        progress.devicesActive = active;
        return `${activated} enrolled device(s) marked active by this activation; ${active} active in all`;
      }
    }
  }

  /** The current topology, or one generated from the inventory and uploaded when there is none. */
  private async topologyStep(activation: StoredActivation, progress: ActivationProgress): Promise<string> {
    const current = await this.call(() => this.rpc.call(TopologyRpc.get, {}), 'the topology service').catch((error: unknown) => {
      if (error instanceof FleetcastError && error.code === ErrorCode.NoTopology) return null;
      throw error;
    });
    if (current !== null) {
      progress.topologyVersion = current.version.version;
      // A topology this activation uploaded before it was killed counts as generated by it.
      progress.topologyGenerated ??= current.version.author.startsWith(`activation ${activation.id} `);
      return `topology version ${current.version.version} in force (${current.document.offices.length} office(s))`;
    }
    if (activation.originAddresses === null) {
      throw new FleetcastError(ErrorCode.NoTopology, 'no topology was uploaded: upload one (POST /v1/topology), or start the activation with originAddresses to generate one from the inventory');
    }
    const draft = await this.call(() => this.rpc.call(TopologyRpc.generateDraft, { originAddresses: activation.originAddresses! }), 'the topology service');
    // baseVersion 0: if another upload got in first (or an earlier run of this step did), this one is refused and the next try finds it.
    const stored = await this.call(
      () => this.rpc.call(TopologyRpc.upload, { document: draft.document, author: `activation ${activation.id} (${activation.startedBy})`, comment: 'generated from the inventory by an activation', baseVersion: 0 }),
      'the topology service',
    ).catch((error: unknown) => {
      if (error instanceof FleetcastError && error.code === ErrorCode.TopologyVersionConflict) throw new RetryLater('a topology was uploaded meanwhile');
      throw error;
    });
    progress.topologyVersion = stored.version;
    progress.topologyGenerated = true;
    return `no topology was uploaded: generated version ${stored.version} from ${draft.devicesSeen} device(s) of the inventory (${draft.document.offices.length} office(s)); review it`;
  }

  /** Every package checked against the origin, a page at a time; the offset and tallies stored after each page. */
  private async contentStep(progress: ActivationProgress, report: (change: Partial<ActivationStep>) => Promise<void>): Promise<string> {
    const c = (progress.content ??= { offset: 0, checked: 0, available: 0, withoutContent: 0, missingCount: 0, missing: [] });
    for (;;) {
      const page = await this.call(() => this.rpc.call(TasksRpc.packageContentStatus, { limit: CONTENT_PAGE, offset: c.offset }, { timeoutMs: 60_000 }), 'the tasks service or the origin');
      for (const p of page.items) {
        c.checked++;
        if (p.state === 'available') c.available++;
        else if (p.state === 'no-content') c.withoutContent++;
        else {
          c.missingCount++;
          if (c.missing.length < MAX_LISTED_MISSING_PACKAGES) c.missing.push(p.packageId);
        }
      }
      c.offset += page.items.length;
      await report({ done: c.offset, total: page.total, detail: `${c.offset} of ${page.total} package(s) checked` });
      if (page.items.length === 0 || c.offset >= page.total) break;
    }
    return `${c.checked} package(s) checked: ${c.available} on the origin, ${c.withoutContent} without content yet, ${c.missingCount} missing from the origin${c.missingCount > 0 ? ' (upload them again: see the result)' : ''}`;
  }

  /** A call to another service; unavailable means "try this step again later", not "failed". */
  private async call<T>(fn: () => Promise<T>, what: string): Promise<T> {
    try {
      return await fn();
    } catch (error) {
      if (error instanceof FleetcastError && error.code === ErrorCode.Unavailable) throw new RetryLater(`${what} did not answer (${error.message})`);
      throw error;
    }
  }
}

function resultOf(p: ActivationProgress): ActivationResult {
  const c = p.content ?? { checked: 0, available: 0, withoutContent: 0, missingCount: 0, missing: [] };
  return {
    licenseId: p.licenseId ?? '',
    topologyVersion: p.topologyVersion ?? 1,
    topologyGenerated: p.topologyGenerated ?? false,
    packages: { checked: c.checked, available: c.available, withoutContent: c.withoutContent, missingCount: c.missingCount, missing: c.missing },
    devicesActivated: p.devicesActivated ?? 0,
    devicesActive: p.devicesActive ?? 0,
  };
}
