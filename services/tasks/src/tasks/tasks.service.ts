import { Inject, Injectable } from '@nestjs/common';
import { randomBytes, randomUUID } from 'node:crypto';
import { EntityManager } from 'typeorm';
import {
  BytesBySource,
  createTaskSchema,
  DeviceStatusV2,
  DeviceTaskState,
  ErrorCode,
  FleetcastError,
  InventoryRpc,
  MAX_SESSION_PEERS,
  LanSession,
  ListTasksQuery,
  DeviceTaskFailed,
  DeviceTaskFailedV1,
  TaskCompleted,
  TaskCompletedV1,
  RESOLVE_PAGE_DEVICES,
  ResolvedTargetsPage,
  TargetExclusion,
  Task,
  TaskAssignedV2,
  TaskCancel,
  TaskCancelV1,
  TaskSummary,
} from '@fleetcast/contracts';
import { endorsementToWire, signAssignment, signCancellation } from '@fleetcast/content';
import { senderIdOf, signLanTicket } from '@fleetcast/lan-protocol';
import { RpcClient } from '@fleetcast/nats';
import { LOGGER } from '@fleetcast/service-kit';
import type { Logger } from '@fleetcast/telemetry';
import { z } from 'zod';
import { TASKS_CONFIG, TasksConfig } from '../config/tasks.config';
import { OutboxService } from '../outbox/outbox.service';
import { PackagesService } from '../packages/packages.service';
import { SigningKeyService } from '../packages/signing-key.service';
import { ProfilesService } from '../profiles/profiles.service';
import { nextResendAt } from './assignment-resend';
import { assignmentDocument, assignmentWindow, buildAssignment, cancellationDocument, devicesToRetry, latestReports, summarize, TaskRecord } from './task-model';
import { LiveEventsPublisher } from './live-events.publisher';
import { OfficeRecorder } from './office-recorder';
import { TasksRepository } from './tasks.repository';

/** Resolving a 10,000-device target set is one inventory query; give it more than the default time. */
const RESOLVE_TIMEOUT_MS = 30_000;
/** A LAN session's peer addresses are a help, not a need: an agent waits for its session no longer than this on them. */
const PEER_ADDRESSES_TIMEOUT_MS = 3_000;
/**
 * How long a LAN claim ticket holds: a week, longer than any one download. It is worth nothing
 * without the private key the device keeps in memory, and an agent asks for a new one with every
 * session it joins.
 */
const LAN_TICKET_TTL_SECONDS = 7 * 24 * 3600;

@Injectable()
export class TasksService {
  constructor(
    @Inject(TASKS_CONFIG) private readonly config: TasksConfig,
    @Inject(LOGGER) private readonly logger: Logger,
    private readonly tasks: TasksRepository,
    private readonly packages: PackagesService,
    private readonly signingKeys: SigningKeyService,
    private readonly profiles: ProfilesService,
    private readonly outbox: OutboxService,
    private readonly rpc: RpcClient,
    private readonly live: LiveEventsPublisher,
    private readonly officeRecorder: OfficeRecorder,
  ) {}

  async create(request: z.infer<typeof createTaskSchema>): Promise<Task> {
    const pkg = await this.packages.get(request.packageId);
    if (pkg.status !== 'ready') throw new FleetcastError(ErrorCode.PackageNotReady, `package ${pkg.id} has no content yet: upload it first`);
    if (request.profileId) await this.profiles.get(request.profileId);
    const devices = await this.resolveTargets(request.targets);
    if (devices.length === 0) throw new FleetcastError(ErrorCode.NoTargets, 'the targets match no device');
    // Targets the inventory keeps out of distribution (an agent version outside the supported
    // range) are recorded as failed with its reason and sent nothing, so the task says why.
    const excluded = devices.flatMap((d) => (d.excluded ? [{ deviceId: d.deviceId, subnet: d.subnet, reason: d.excluded }] : []));
    const assigned = devices.filter((d) => !d.excluded);

    const now = new Date();
    const startAt = request.startAt ? new Date(request.startAt) : now;
    const immediate = startAt <= now;
    const task: TaskRecord = {
      id: randomUUID(),
      name: request.name ?? `${pkg.name} ${pkg.version} (${request.action})`,
      packageId: pkg.id,
      action: request.action,
      // With every target excluded nothing is left to wait for, nor to issue at a later start.
      status: assigned.length === 0 ? 'completed' : immediate ? 'active' : 'scheduled',
      profileId: request.profileId ?? null,
      startAt,
      createdAt: now,
    };
    await this.tasks.transaction(async (m) => {
      // Held until the task is in: a deletion waits for it, then finds the task and refuses.
      if (!(await this.packages.lockLive(m, pkg.id))) throw new FleetcastError(ErrorCode.PackageNotFound, `package ${pkg.id} not found`);
      await this.tasks.insertTask(m, task, randomBytes(32));
      await this.tasks.insertDeviceTasks(m, task.id, assigned, immediate ? { at: now, firstResendAt: nextResendAt(now, 0, this.config.assignmentResend) } : null);
      await this.tasks.insertExcludedDeviceTasks(m, task.id, excluded);
      if (immediate && assigned.length > 0) await this.enqueueAssignments(m, task, assigned.map((d) => d.deviceId), now);
    });
    if (immediate) this.outbox.kick();
    this.logger.info({ taskId: task.id, devices: devices.length, startAt: startAt.toISOString() }, 'task created');
    if (excluded.length > 0) {
      this.logger.warn({ taskId: task.id, devices: excluded.length, first: excluded[0] }, 'targets kept out of distribution, recorded as failed');
    }
    return this.get(task.id);
  }

  /**
   * Writes one assignment per device to the outbox, in the caller's transaction, each signed for its
   * device with the active key (a resend is signed again, with the same validity window). Nothing
   * is written once the window has closed: the device would refuse it.
   */
  async enqueueAssignments(m: EntityManager, task: TaskRecord, deviceIds: string[], now: Date): Promise<void> {
    const window = assignmentWindow(task, this.config.assignmentValiditySeconds * 1000);
    if (window.expiresAt <= now) {
      this.logger.warn({ taskId: task.id, devices: deviceIds.length, expiresAt: window.expiresAt.toISOString() }, 'assignments not sent: their validity has ended');
      return;
    }
    const pkg = await this.packages.get(task.packageId);
    if (pkg.contentId === null) throw new FleetcastError(ErrorCode.PackageNotReady, `package ${pkg.id} has no content`);
    const settings = await this.profiles.resolve(task.profileId, m);
    const manifestHash = await this.packages.manifestHashOf(pkg.contentId);
    const signer = await this.signingKeys.assignmentSigner(now, m);
    const endorsements = signer.endorsements.map(endorsementToWire);
    // A retried device's copy (a resend too) carries its attempt, so that its agent starts again.
    const attempts = await this.tasks.attemptsOf(m, task.id, deviceIds);
    await this.outbox.enqueue(
      m,
      deviceIds.map((deviceId) => {
        const document = assignmentDocument(task, pkg, manifestHash, deviceId, window, signer.retiredKeyIds, now, attempts.get(deviceId) ?? 1);
        const signed = signAssignment(document, signer.key);
        const assignment = { document, keyId: signed.keyId, signature: Buffer.from(signed.signature).toString('base64') };
        return { subject: TaskAssignedV2.subject(deviceId), payload: buildAssignment(assignment, endorsements, pkg, settings, this.config.originPublicUrl) };
      }),
    );
  }

  /**
   * Cancels a task: it and its targets not yet in a final state become `cancelled` (history and
   * summary say so at once), and each of those targets that was sent the task gets a signed
   * cancellation through the outbox, which its agent acts on when it gets it (at once, or when it
   * comes back online). A task that is over answers TASKS.TASK_FINISHED.
   */
  async cancel(id: string): Promise<Task> {
    const now = new Date();
    const changed = await this.tasks.transaction(async (m) => {
      const task = await this.tasks.lockTask(m, id);
      if (!task) throw new FleetcastError(ErrorCode.TaskNotFound, `task ${id} not found`);
      if (task.status === 'completed' || task.status === 'cancelled') {
        throw new FleetcastError(ErrorCode.TaskFinished, `task ${id} is already ${task.status}: nothing to cancel`);
      }
      const rows = await this.tasks.cancelTask(m, id, `cancelled by an operator at ${now.toISOString()}`);
      await this.enqueueCancellations(m, id, rows.filter((r) => r.sent).map((r) => r.deviceId), now);
      return rows;
    });
    this.outbox.kick();
    this.logger.info({ taskId: id, devices: changed.length, notified: changed.filter((r) => r.sent).length }, 'task cancelled');
    await this.publishChanges(id, changed);
    return this.get(id);
  }

  /** One signed cancellation per device, signed as assignments are (active key, endorsements to it). */
  private async enqueueCancellations(m: EntityManager, taskId: string, deviceIds: string[], now: Date): Promise<void> {
    if (deviceIds.length === 0) return;
    const signer = await this.signingKeys.assignmentSigner(now, m);
    const endorsements = signer.endorsements.map(endorsementToWire);
    await this.outbox.enqueue(
      m,
      deviceIds.map((deviceId) => {
        const signed = signCancellation(cancellationDocument(taskId, deviceId, signer.retiredKeyIds, now), signer.key);
        const payload: TaskCancelV1 = {
          cancellation: { document: signed.value, keyId: signed.keyId, signature: Buffer.from(signed.signature).toString('base64') },
          endorsements,
        };
        return { subject: TaskCancel.subject(deviceId), payload };
      }),
    );
  }

  /**
   * Tries failed targets again: each goes back to `pending` with its attempt raised and, when the
   * task has started, is sent a new signed assignment for that attempt (resent like any other until
   * acknowledged); the history records the retry. A cancelled task answers TASKS.TASK_CANCELLED.
   */
  async retry(id: string, deviceIds: string[] | undefined): Promise<{ task: Task; retried: string[] }> {
    const now = new Date();
    const changed = await this.tasks.transaction(async (m) => {
      const task = await this.tasks.lockTask(m, id);
      if (!task) throw new FleetcastError(ErrorCode.TaskNotFound, `task ${id} not found`);
      if (task.status === 'cancelled') throw new FleetcastError(ErrorCode.TaskCancelled, `task ${id} was cancelled: create a new task instead`);
      const chosen = devicesToRetry(await this.tasks.deviceStates(m, id, deviceIds ?? null), deviceIds);
      const started = task.status !== 'scheduled';
      const rows = await this.tasks.retryDevices(m, task, chosen, started ? { at: now, firstResendAt: nextResendAt(now, 0, this.config.assignmentResend) } : null);
      if (started) await this.enqueueAssignments(m, { ...task, status: 'active' }, rows.map((r) => r.deviceId), now);
      return rows;
    });
    this.outbox.kick();
    this.logger.info({ taskId: id, devices: changed.length }, 'failed devices retried');
    await this.publishChanges(id, changed);
    return { task: await this.get(id), retried: changed.map((r) => r.deviceId) };
  }

  /** Live updates of a change made here (cancel, retry): each device changed, then the task's counts. */
  private async publishChanges(taskId: string, changed: Array<{ deviceId: string; state: DeviceTaskState; previousState: DeviceTaskState; reason: { code: string; message: string } | null; bytes: BytesBySource }>): Promise<void> {
    try {
      this.live.publish(
        changed.map((c) => ({ taskId, deviceId: c.deviceId, state: c.state, previousState: c.previousState, reason: c.reason, bytes: c.bytes })),
        await this.tasks.taskCounts([taskId]),
      );
    } catch (error) {
      this.logger.warn({ taskId, err: (error as Error).message }, 'live task updates not published');
    }
  }

  /**
   * Explicit device IDs may name devices the inventory has not seen yet (an agent installed later):
   * they are assigned all the same, with an unknown subnet, and get the task when they connect.
   */
  private async resolveTargets(
    targets: z.infer<typeof createTaskSchema>['targets'],
  ): Promise<Array<{ deviceId: string; subnet: string | null; excluded?: TargetExclusion }>> {
    let resolved: ResolvedTargetsPage['devices'];
    try {
      resolved = await this.resolvePages(targets);
    } catch (error) {
      if (targets.query || !(error instanceof FleetcastError) || error.code !== ErrorCode.Unavailable) throw error;
      this.logger.warn('inventory unavailable: assigning explicit devices without subnet information');
      return [...new Set(targets.deviceIds)].map((deviceId) => ({ deviceId, subnet: null }));
    }
    const seen = new Set<string>();
    return resolved.filter((d) => !seen.has(d.deviceId) && seen.add(d.deviceId)).map((d) => ({ deviceId: d.deviceId, subnet: d.subnet, excluded: d.excluded }));
  }

  /**
   * The explicit IDs first, in their order, then what the query matches, a page at a time: each
   * request and reply stays within NATS's payload limit whatever the task's size.
   */
  private async resolvePages(targets: z.infer<typeof createTaskSchema>['targets']): Promise<ResolvedTargetsPage['devices']> {
    const devices: ResolvedTargetsPage['devices'] = [];
    const explicit = targets.deviceIds ?? [];
    for (let i = 0; i < explicit.length; i += RESOLVE_PAGE_DEVICES) {
      const page = await this.rpc.call(InventoryRpc.resolveTargetsPage, { deviceIds: explicit.slice(i, i + RESOLVE_PAGE_DEVICES) }, { timeoutMs: RESOLVE_TIMEOUT_MS });
      devices.push(...page.devices);
    }
    if (targets.query) {
      let after: string | undefined;
      do {
        const page = await this.rpc.call(InventoryRpc.resolveTargetsPage, { query: targets.query, ...(after ? { after } : {}) }, { timeoutMs: RESOLVE_TIMEOUT_MS });
        devices.push(...page.devices);
        after = page.next ?? undefined;
      } while (after !== undefined);
    }
    return devices;
  }

  async get(id: string): Promise<Task> {
    const task = await this.tasks.findTask(id);
    if (!task) throw new FleetcastError(ErrorCode.TaskNotFound, `task ${id} not found`);
    return this.toTask(task);
  }

  async list(query: ListTasksQuery): Promise<{ items: Task[]; total: number }> {
    const { items, total } = await this.tasks.listTasks(query);
    return { items: await Promise.all(items.map((t) => this.toTask(t))), total };
  }

  async summary(id: string) {
    const task = await this.tasks.findTask(id);
    if (!task) throw new FleetcastError(ErrorCode.TaskNotFound, `task ${id} not found`);
    // One snapshot: counts, representatives, issues and reasons all describe the same moment, even
    // while reports are being applied.
    return this.tasks.snapshot((m) => this.summaryIn(id, m));
  }

  async deviceHistory(id: string, deviceId: string) {
    const items = await this.tasks.deviceHistory(id, deviceId);
    if (items === null) {
      if (!(await this.tasks.findTask(id))) throw new FleetcastError(ErrorCode.TaskNotFound, `task ${id} not found`);
      throw new FleetcastError(ErrorCode.DeviceNotFound, `device ${deviceId} is not a target of task ${id}`);
    }
    return { taskId: id, deviceId, items };
  }

  async devices(id: string, state: DeviceTaskState | undefined, limit: number, offset: number) {
    if (!(await this.tasks.findTask(id))) throw new FleetcastError(ErrorCode.TaskNotFound, `task ${id} not found`);
    return this.tasks.listDevices(id, state, limit, offset);
  }

  /**
   * The task's LAN session for one of its target devices; with `claimKey` (a public key the device
   * made, base64), also the device's ticket to claim the session as itself (`signLanTicket`).
   */
  async lanSession(taskId: string, deviceId: string, claimKey?: string): Promise<LanSession> {
    const found = await this.tasks.lanSession(taskId, deviceId);
    if (!found) {
      if (!(await this.tasks.findTask(taskId))) throw new FleetcastError(ErrorCode.TaskNotFound, `task ${taskId} not found`);
      throw new FleetcastError(ErrorCode.DeviceNotFound, `device ${deviceId} is not a target of task ${taskId}`);
    }
    const subnetPeers = found.subnet === null ? [] : await this.peerAddresses(found.subnet, deviceId, found.subnetDeviceIds);
    const session: LanSession = { taskId, sessionKey: found.key.toString('base64'), subnet: found.subnet, subnetDeviceIds: found.subnetDeviceIds, subnetPeers };
    if (claimKey === undefined) return session;
    const key = await this.signingKeys.get();
    const notAfter = Math.floor(Date.now() / 1000) + LAN_TICKET_TTL_SECONDS;
    const signature = signLanTicket({ taskId, senderId: senderIdOf(deviceId), devicePublicKey: Buffer.from(claimKey, 'base64'), notAfter }, key.privateKey);
    return { ...session, claimTicket: { keyId: key.keyId, notAfter, signature: Buffer.from(signature).toString('base64') } };
  }

  /**
   * Addresses of up to MAX_SESSION_PEERS other targets on the subnet: those after this device in ID
   * order, wrapping around, so that on a large subnet each device asks different peers. Without the
   * inventory the session goes on without them (the multicast group still tells who holds what).
   */
  private async peerAddresses(subnet: string, deviceId: string, subnetDeviceIds: readonly string[]): Promise<Array<{ deviceId: string; address: string }>> {
    const at = subnetDeviceIds.indexOf(deviceId);
    const others = [...subnetDeviceIds.slice(at + 1), ...subnetDeviceIds.slice(0, Math.max(0, at))].slice(0, MAX_SESSION_PEERS);
    if (others.length === 0) return [];
    try {
      return (await this.rpc.call(InventoryRpc.deviceAddresses, { deviceIds: others, subnet }, { timeoutMs: PEER_ADDRESSES_TIMEOUT_MS })).items;
    } catch (error) {
      this.logger.warn({ subnet, err: (error as Error).message }, 'no peer addresses from the inventory for a LAN session');
      return [];
    }
  }

  /** Applies a batch of agents' status reports in one transaction (idempotent by seq). */
  async applyReports(reports: DeviceStatusV2[]): Promise<void> {
    const events = await this.tasks.transaction(async (m) => {
      const latest = latestReports(reports);
      await this.tasks.lockTasks(m, [...new Set(latest.map((r) => r.taskId))]);
      const applied = await this.tasks.applyReports(m, latest);
      const completed = await this.tasks.completeFinished(m, [...new Set(applied.map((a) => a.taskId))]);
      // What external systems hear (webhooks), committed with the change it reports.
      const now = new Date().toISOString();
      const messages = [
        ...applied
          .filter((a) => a.state === 'failed' && a.previousState !== 'failed')
          .map((a) => ({ subject: DeviceTaskFailed.subject(), payload: { taskId: a.taskId, deviceId: a.deviceId, reason: a.reason, occurredAt: now } satisfies DeviceTaskFailedV1 })),
        ...completed.map((c) => ({ subject: TaskCompleted.subject(), payload: { ...c, completedAt: now } satisfies TaskCompletedV1 })),
      ];
      await this.outbox.enqueue(m, messages);
      return { count: messages.length, applied };
    });
    if (events.count > 0) this.outbox.kick();
    if (events.applied.length > 0) {
      // The WAN savings figures, after the commit (see addBytesByHour): a failure here loses a
      // batch's bytes from the report, never a device's state.
      await this.tasks.addBytesByHour(events.applied).catch((error: Error) => this.logger.warn({ err: error.message }, 'hourly bytes by subnet not recorded'));
      try {
        this.live.publish(
          events.applied.map((a) => ({ taskId: a.taskId, deviceId: a.deviceId, state: a.state, previousState: a.previousState, reason: a.reason, bytes: a.bytes })),
          await this.tasks.taskCounts([...new Set(events.applied.map((a) => a.taskId))]),
        );
      } catch (error) {
        this.logger.warn({ err: (error as Error).message }, 'live task updates not published');
      }
      // Last: the devices' offices for the summary, after the live updates have gone out.
      await this.officeRecorder.record(events.applied);
    }
  }

  private async toTask(t: TaskRecord): Promise<Task> {
    return {
      id: t.id,
      name: t.name,
      packageId: t.packageId,
      action: t.action,
      status: t.status,
      profileId: t.profileId,
      startAt: t.startAt.toISOString(),
      createdAt: t.createdAt.toISOString(),
      summary: await this.summaryIn(t.id),
    };
  }

  /** The task's summary from its grouped rows (in `m`'s snapshot when given). */
  private async summaryIn(id: string, m?: EntityManager): Promise<TaskSummary> {
    const { rows, offices } = await this.tasks.summaryRows(id, m);
    return summarize(id, rows, await this.tasks.representatives(id, m), await this.tasks.lanIssues(id, m), await this.tasks.reasons(id, m), offices);
  }
}
