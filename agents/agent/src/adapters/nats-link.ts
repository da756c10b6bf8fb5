import { mkdir, readdir, readFile, rename, stat, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { AckPolicy, DeliverPolicy, ErrorCode as NatsErrorCode, headers as natsHeaders, nanos, NatsError, Subscription } from 'nats';
import {
  DeviceOfficePolicy,
  DevicePlaced,
  DeviceStatusReported,
  DeviceStatusReportedV2,
  DeviceStatusV1,
  DeviceStatusV2,
  ErrorCode,
  FleetcastError,
  InventoryScanSubmitted,
  InventoryScanV1,
  LanSession,
  parseSubject,
  ResolvedSettings,
  SettingsChanged,
  Streams,
  SubjectBase,
  TasksDeviceRpc,
  ContentKey,
  TopologyDeviceRpc,
  assignmentReplayConsumerName,
  deviceInboxPrefix,
  versioned,
  SignedContentDeletions,
  SignedPeerPass,
  SwarmAnnounce,
  SwarmView,
} from '@fleetcast/contracts';
import { assembleManifestPages, Manifest, Signed } from '@fleetcast/content';
import { connectNats, decodeJson, encodeJson, NatsConnection, natsAuthenticator, RpcClient } from '@fleetcast/nats';
import { captureTraceContext, Logger, SpanKind, withSpan } from '@fleetcast/telemetry';
import type { ReceivedAssignment } from '../core/assignment-check';
import { commandsFilterFor, jwtOfCreds } from '../core/command-filter';
import { DEFAULT_SPOOL_LIMITS, parseSpoolName, planSpool, spoolBaseName, SpoolDropReason, SpoolEntry, spoolKindOf, SpoolLimits } from '../core/spool-policy';

export interface NatsLinkOptions {
  servers: string;
  /** The device's NATS credentials (from enrollment, or a provisioned creds file); absent: none (an open server). */
  auth?: { jwt: string; seed: string } | { credsFile: string };
  tlsCaFile?: string;
  /** The core's JetStream domain, when `servers` is a branch leaf node: the leaf forwards JetStream requests only under it. */
  jsDomain?: string;
  deviceId: string;
  stateDir: string;
  logger: Logger;
  /** Every message on the device's assignment subjects, decoded but not yet trusted (`checkAssignment` decides). */
  onAssignment: (received: ReceivedAssignment) => void;
  /** Every message on the device's cancellation subjects, decoded but not yet trusted (`checkCancellation` decides). */
  onCancellation?: (received: ReceivedAssignment) => void;
  onSettingsChanged: () => void;
  /** The topology changed, or this device was placed in another office: its office policy may have changed. */
  onTopologyChanged?: () => void;
  /** The outgoing spool's size limits (see `core/spool-policy.ts`); DEFAULT_SPOOL_LIMITS unless given. */
  spoolLimits?: SpoolLimits;
  /**
   * Spooled messages that were dropped, by why: `superseded` and `full` by the spool's limits,
   * `corrupt` (unreadable) and `too-large` (over the server's payload limit) set aside unpublished.
   */
  onSpoolDropped?: (reason: SpoolDropReason | 'corrupt' | 'too-large', count: number) => void;
}

/** Where unpublishable spool files are moved, in the state dir, for a human to look at. */
export const SPOOL_CORRUPT_DIR = 'spool-corrupt';
/** Files kept there at most (the oldest go): enough to see what went wrong, never a growing pile. */
const SPOOL_CORRUPT_KEEP = 100;

/** A spooled message as written by `writeSpool`, or why the text cannot be one. */
function parseSpooled(text: string): { subject: string; payload: unknown; msgId: string; headers: Record<string, string> } | string {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    return `not JSON (${(error as Error).message})`;
  }
  const m = (typeof value === 'object' && value !== null ? value : {}) as Record<string, unknown>;
  if (typeof m.subject !== 'string' || m.subject.length === 0 || typeof m.msgId !== 'string' || !('payload' in m)) return 'not a spooled message (subject, msgId, payload)';
  const headers = typeof m.headers === 'object' && m.headers !== null ? Object.fromEntries(Object.entries(m.headers).filter(([, v]) => typeof v === 'string')) : {};
  return { subject: m.subject, payload: m.payload, msgId: m.msgId, headers: headers as Record<string, string> };
}

const isNotFound = (error: unknown) => (error as NodeJS.ErrnoException)?.code === 'ENOENT';

/**
 * The agent's only NATS code. Assignments arrive live on the device's subject and, after any
 * (re)connect, by replaying the TASK_ASSIGNMENTS stream from the last sequence seen, so an agent
 * that was offline when a task was issued gets it when it returns. Outgoing reports and scans go
 * through a small on-disk queue: written before publishing, removed on the stream's ack, so a NATS
 * outage or an agent restart loses nothing.
 */
export class NatsLink {
  private nc?: NatsConnection;
  private rpc?: RpcClient;
  private live?: Subscription;
  private settingsSub?: Subscription;
  private topologySubs: Subscription[] = [];
  private flushing = false;
  private closed = false;
  /** What this device subscribes to and replays (see `commandsFilterFor`); set at start. */
  private commandsFilter = '';
  private spoolSeq = 0;

  constructor(private readonly options: NatsLinkOptions) {}

  /** JetStream under the core's domain when the agent is behind a branch leaf node. */
  private get jsOptions(): { domain?: string } {
    return this.options.jsDomain ? { domain: this.options.jsDomain } : {};
  }

  private get spoolDir(): string {
    return join(this.options.stateDir, 'spool');
  }

  private get cursorFile(): string {
    return join(this.options.stateDir, 'assignments.cursor');
  }

  async start(): Promise<void> {
    await mkdir(this.spoolDir, { recursive: true });
    const existing = await readdir(this.spoolDir);
    this.spoolSeq = existing.reduce((max, f) => Math.max(max, Number.parseInt(f, 10) || 0), 0);
    this.nc = await connectNats({
      servers: this.options.servers,
      name: `fleetcast-agent-${this.options.deviceId}`,
      logger: this.options.logger,
      authenticator: this.options.auth ? natsAuthenticator(this.options.auth) : undefined,
      // The device's permissions allow replies under its own prefix only.
      inboxPrefix: deviceInboxPrefix(this.options.deviceId),
      tlsCaFile: this.options.tlsCaFile,
    });
    this.rpc = new RpcClient(this.nc);
    // Assignments and cancellations, every version: one subscription, one replay, in the stream's order
    // (assignments only for a device whose credentials predate cancellations).
    const commands = commandsFilterFor(await this.userJwt(), this.options.deviceId);
    this.commandsFilter = commands.filter;
    if (!commands.cancellations) {
      this.options.logger.warn({ filter: commands.filter }, 'the device credentials allow assignments only: cancellations are not received until the device is enrolled again');
    }
    this.live = this.nc.subscribe(this.commandsFilter, {
      callback: (err, msg) => {
        if (!err) this.receive(msg.subject, msg.data);
      },
    });
    this.settingsSub = this.nc.subscribe(SettingsChanged.subject(), { callback: () => this.options.onSettingsChanged() });
    const onTopology = () => this.options.onTopologyChanged?.();
    this.topologySubs = [
      // Every version of the broadcast, as the device's permissions allow it.
      this.nc.subscribe(`${SubjectBase.topologyChanged}.*`, { callback: onTopology }),
      this.nc.subscribe(DevicePlaced.deviceFilter(this.options.deviceId), { callback: onTopology }),
    ];
    void this.watchStatus();
    await this.catchUp();
    void this.flushSpool();
  }

  /** The device's NATS user JWT (from enrollment or its creds file); null without credentials or when unreadable. */
  private async userJwt(): Promise<string | null> {
    const auth = this.options.auth;
    if (auth === undefined) return null;
    if ('jwt' in auth) return auth.jwt;
    return readFile(auth.credsFile, 'utf8').then(jwtOfCreds, () => null);
  }

  async close(): Promise<void> {
    this.closed = true;
    this.live?.unsubscribe();
    this.settingsSub?.unsubscribe();
    for (const sub of this.topologySubs) sub.unsubscribe();
    if (this.nc && !this.nc.isClosed()) await this.nc.drain().catch(() => undefined);
  }

  private async watchStatus(): Promise<void> {
    for await (const status of this.nc!.status()) {
      if (status.type === 'reconnect') {
        void this.catchUp().catch((error) => this.options.logger.warn({ err: error }, 'assignment catch-up failed'));
        void this.flushSpool();
      }
    }
  }

  /**
   * Hands an assignment message over as received (version from the subject, body decoded); whether
   * to act on it is the caller's decision. Nothing is thrown into the subscription loop.
   */
  private receive(subject: string, data: Uint8Array): void {
    const { base, version } = parseSubject(subject);
    try {
      if (base === SubjectBase.taskCancel) this.options.onCancellation?.({ subject, version, body: decodeJson(data) });
      else if (base === SubjectBase.taskAssigned) this.options.onAssignment({ subject, version, body: decodeJson(data) });
      else this.options.logger.warn({ subject }, 'command of an unknown kind ignored');
    } catch (error) {
      this.options.logger.error({ subject, err: error }, 'command handler failed');
    }
  }

  /**
   * Replays this device's assignments and cancellations stored since the last one seen: a short-lived consumer
   * filtered to the device's subject, read to its end, then deleted (servers expire it anyway). It
   * has the one name the device's permissions allow; one left by a crash is removed first, since
   * its start sequence may differ.
   */
  private async catchUp(): Promise<void> {
    const cursor = await readFile(this.cursorFile, 'utf8').then(Number, () => 0);
    const jsm = await this.nc!.jetstreamManager(this.jsOptions);
    const name = assignmentReplayConsumerName(this.options.deviceId);
    await jsm.consumers.delete(Streams.taskAssignments.name, name).catch(() => undefined);
    const info = await jsm.consumers.add(Streams.taskAssignments.name, {
      name,
      filter_subject: this.commandsFilter,
      ack_policy: AckPolicy.None,
      ...(cursor > 0 ? { deliver_policy: DeliverPolicy.StartSequence, opt_start_seq: cursor + 1 } : { deliver_policy: DeliverPolicy.All }),
      // Removed by the server if this agent dies mid-replay.
      inactive_threshold: nanos(60_000),
    });
    try {
      let last = cursor;
      let pending = info.num_pending;
      const consumer = await this.nc!.jetstream(this.jsOptions).consumers.get(Streams.taskAssignments.name, info.name);
      while (pending > 0) {
        const batch = await consumer.fetch({ max_messages: Math.min(pending, 256), expires: 5000 });
        let got = 0;
        for await (const m of batch) {
          this.receive(m.subject, m.data);
          last = m.seq;
          pending = m.info.pending;
          got++;
        }
        if (got === 0) break;
      }
      if (last !== cursor) await writeFile(this.cursorFile, String(last));
    } finally {
      await jsm.consumers.delete(Streams.taskAssignments.name, info.name).catch(() => undefined);
    }
  }

  /**
   * Queues a status report: version 2 (with the device's LAN activity) when it has a `lan` field,
   * else version 1. The spool keeps each message with its subject, so reports queued by an agent
   * that spoke only version 1 are still published as they were written.
   */
  async publishStatus(report: DeviceStatusV1 | DeviceStatusV2): Promise<void> {
    const subject = 'lan' in report ? DeviceStatusReportedV2.subject(report.deviceId) : DeviceStatusReported.subject(report.deviceId);
    const attributes = { 'fleetcast.task.id': report.taskId, 'fleetcast.task.state': report.state, 'fleetcast.report.seq': report.seq };
    await this.spool(subject, report, `status-${report.deviceId}-${report.taskId}-${report.seq}`, attributes);
  }

  async publishScan(scan: InventoryScanV1): Promise<void> {
    await this.spool(InventoryScanSubmitted.subject(scan.deviceId), scan, `scan-${scan.deviceId}-${scan.scanSeq}`, {});
  }

  /**
   * Writes the message to disk first (atomic rename), then tries to publish everything queued.
   * A producer span covers the hand-over: the message keeps that span's trace context on disk, so
   * it carries it when it is published, even much later or after a restart.
   */
  private async spool(subject: string, payload: unknown, msgId: string, attributes: Record<string, string | number>): Promise<void> {
    const { base, version } = parseSubject(subject);
    // Named after the subject without the device token: one span name per message type, not per device.
    const name = `send ${version === null ? base : versioned(base, version)}`;
    await withSpan(
      name,
      { kind: SpanKind.PRODUCER, attributes: { 'messaging.system': 'nats', 'messaging.destination.name': subject, 'messaging.message.id': msgId, ...attributes } },
      () => this.writeSpool(subject, payload, msgId, captureTraceContext()),
    );
    void this.flushSpool();
  }

  /**
   * Writes one message as its own file, named by order, kind and task (`core/spool-policy.ts`), then
   * keeps the spool within its limits: what a newer message supersedes goes first, then the oldest
   * progress reports and scans; a task's final report is never dropped. Every drop is counted.
   */
  private async writeSpool(subject: string, payload: unknown, msgId: string, headers: Record<string, string>): Promise<void> {
    const { kind, taskId } = spoolKindOf(parseSubject(subject).base, payload);
    const name = spoolBaseName(++this.spoolSeq, kind, taskId);
    const tmp = join(this.spoolDir, `${name}.tmp`);
    await writeFile(tmp, JSON.stringify({ subject, payload, msgId, headers }));
    await rename(tmp, join(this.spoolDir, `${name}.json`));

    const entries: SpoolEntry[] = [];
    for (const file of await readdir(this.spoolDir)) {
      // Published (and removed) by a flush meanwhile: not in the spool any more.
      const size = await stat(join(this.spoolDir, file)).then((s) => s.size, () => null);
      const entry = size === null ? null : parseSpoolName(file, size);
      if (entry) entries.push(entry);
    }
    const plan = planSpool(entries, this.options.spoolLimits ?? DEFAULT_SPOOL_LIMITS);
    const dropped = { superseded: 0, full: 0 };
    for (const drop of plan.drop) {
      // Counted only if this call removed it: a flush may have published it, or another write dropped it.
      if (await unlink(join(this.spoolDir, drop.name)).then(() => true, () => false)) dropped[drop.reason] += 1;
    }
    for (const reason of ['superseded', 'full'] as const) if (dropped[reason] > 0) this.options.onSpoolDropped?.(reason, dropped[reason]);
    if (dropped.full > 0 || plan.overLimit) {
      const limits = this.options.spoolLimits ?? DEFAULT_SPOOL_LIMITS;
      this.options.logger.warn(
        { ...dropped, files: entries.length - plan.drop.length, limits, finalsOnly: plan.overLimit },
        plan.overLimit ? 'report spool over its limit with final reports only: kept' : 'report spool full: dropped the oldest progress reports and scans',
      );
    } else if (dropped.superseded > 0) {
      this.options.logger.debug({ superseded: dropped.superseded }, 'report spool full: dropped reports and scans that newer ones supersede');
    }
  }

  /**
   * Publishes queued messages in order; stops at the first failure to publish and tries again on
   * reconnect (or in 2 s). A file that cannot be a message (not JSON, truncated, no subject) or that
   * NATS can never take (over the server's payload limit) is moved aside to `spool-corrupt/`, logged
   * and counted, and the files behind it go on: one bad file never holds back the reports after it.
   */
  private async flushSpool(): Promise<void> {
    if (this.flushing || !this.nc || this.closed) return;
    this.flushing = true;
    try {
      let again = true;
      while (again && !this.closed) {
        const files = (await readdir(this.spoolDir)).filter((f) => f.endsWith('.json')).sort();
        again = files.length > 0;
        for (const file of files) {
          if (this.closed) break;
          const path = join(this.spoolDir, file);
          // Dropped meanwhile by the spool's limits: nothing to send.
          const text = await readFile(path, 'utf8').catch((error: unknown) => (isNotFound(error) ? null : Promise.reject(error)));
          if (text === null) continue;
          const message = parseSpooled(text);
          if (typeof message === 'string') {
            await this.setAside(file, 'corrupt', message);
            continue;
          }
          // The trace context captured when the message was spooled, not that of whatever started this flush.
          const h = natsHeaders();
          for (const [k, v] of Object.entries(message.headers)) h.set(k, v);
          try {
            await this.nc.jetstream(this.jsOptions).publish(message.subject, encodeJson(message.payload), { msgID: message.msgId, headers: h, timeout: 5000 });
          } catch (error) {
            // No server will ever take it; anything else (no stream yet, a timeout, a lost connection) may pass later.
            if ((error as NatsError).code !== NatsErrorCode.MaxPayloadExceeded) throw error;
            await this.setAside(file, 'too-large', (error as Error).message);
            continue;
          }
          await unlink(path).catch((error: unknown) => (isNotFound(error) ? undefined : Promise.reject(error)));
        }
      }
    } catch (error) {
      this.options.logger.warn({ err: (error as Error).message }, 'publish failed; queued on disk until NATS is back');
      setTimeout(() => void this.flushSpool(), 2000).unref();
    } finally {
      this.flushing = false;
    }
  }

  /** Moves an unpublishable spool file aside (keeping the newest SPOOL_CORRUPT_KEEP there), logs and counts it. */
  private async setAside(file: string, reason: 'corrupt' | 'too-large', detail: string): Promise<void> {
    const dir = join(this.options.stateDir, SPOOL_CORRUPT_DIR);
    await mkdir(dir, { recursive: true });
    // Prefixed with the time: spool numbers start again when the spool is empty, and the oldest must sort first.
    await rename(join(this.spoolDir, file), join(dir, `${Date.now()}-${file}`)).catch((error: unknown) => (isNotFound(error) ? undefined : Promise.reject(error)));
    this.options.logger.error({ file, reason, detail: detail.slice(0, 300), movedTo: dir }, 'spooled message cannot be published: moved aside, the next ones go on');
    this.options.onSpoolDropped?.(reason, 1);
    const kept = (await readdir(dir)).sort();
    for (const old of kept.slice(0, Math.max(0, kept.length - SPOOL_CORRUPT_KEEP))) await unlink(join(dir, old)).catch(() => undefined);
  }

  /** Messages waiting on disk to be published (visible in the agent's status). */
  async spooled(): Promise<number> {
    return (await readdir(this.spoolDir)).filter((f) => f.endsWith('.json')).length;
  }

  /**
   * This device's office, the policy of its office's type and its WAN figures; null while the
   * control plane has no topology or has not placed this device yet (no scan of it so far).
   */
  async officePolicy(): Promise<DeviceOfficePolicy | null> {
    try {
      return await this.rpc!.callAsDevice(TopologyDeviceRpc.getPolicy, this.options.deviceId, {});
    } catch (error) {
      if (error instanceof FleetcastError && (error.code === ErrorCode.NoTopology || error.code === ErrorCode.TopologyDeviceUnknown)) return null;
      throw error;
    }
  }

  /** The signed notice of content this device may drop (deleted packages); checked by the caller before anything is removed. */
  async contentDeletions(): Promise<SignedContentDeletions> {
    return this.rpc!.callAsDevice(TasksDeviceRpc.getContentDeletions, this.options.deviceId, {});
  }

  async settings(): Promise<ResolvedSettings> {
    return this.rpc!.callAsDevice(TasksDeviceRpc.getSettings, this.options.deviceId, {});
  }

  /**
   * The task's LAN session: the key that authenticates its LAN packets, the subnet's other targets
   * and, for `claimKey`, this device's ticket to claim the session with that key.
   */
  async lanSession(taskId: string, claimKey: string): Promise<LanSession> {
    return this.rpc!.callAsDevice(TasksDeviceRpc.getLanSession, this.options.deviceId, { taskId, claimKey });
  }

  /** A package's signed manifest from the control plane (checked by the caller: `acceptManifest`). */
  async signedManifest(contentId: string): Promise<Signed<Manifest>> {
    // A page at a time for a manifest too large for one message (packages over 20 GiB).
    return assembleManifestPages((fromBlock) => this.rpc!.callAsDevice(TasksDeviceRpc.getManifest, this.options.deviceId, { contentId, fromBlock }));
  }

  /** Tells the tasks service what this device holds of a task's content; its office's swarm view comes back (docs/p2p.md). */
  async swarmAnnounce(request: SwarmAnnounce): Promise<SwarmView> {
    return this.rpc!.callAsDevice(TasksDeviceRpc.swarmAnnounce, this.options.deviceId, request);
  }

  /** This device's pass to its office's peer block servers (checked by them: core/peer-pass-check.ts). */
  async peerPass(): Promise<SignedPeerPass> {
    return this.rpc!.callAsDevice(TasksDeviceRpc.getPeerPass, this.options.deviceId, {});
  }

  /**
   * The key of a confidential package's content: only a device targeted by an install task with it
   * gets one (FleetcastError TASKS.NOT_A_TARGET otherwise). Asked for at install, never stored.
   */
  async contentKey(contentId: string): Promise<ContentKey> {
    return this.rpc!.callAsDevice(TasksDeviceRpc.getContentKey, this.options.deviceId, { contentId });
  }

  /** A download token for content of one of this device's tasks (null: the control plane issues none). */
  async downloadToken(contentId: string): Promise<string | null> {
    return (await this.rpc!.callAsDevice(TasksDeviceRpc.getDownloadToken, this.options.deviceId, { contentId })).token;
  }

}
