import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { AgentSettings, ByteSource, DeviceOfficePolicy, PEER_PASS_HEADER, EnrollRequest, DeviceStatusV1, DeviceStatusV2, ErrorCode, FleetcastError, LanActivity, LanIssue, LanIssueCode, NetworkInterface, ResolvedSettings, TaskAssignedV1, AssignmentRejectCode, emptyBytesBySource } from '@fleetcast/contracts';
import { openFile, type Manifest } from '@fleetcast/content';
import { Gauge } from 'prom-client';
import { counter, createMetricsRegistry, Logger, Registry } from '@fleetcast/telemetry';
import { acceptManifest } from './core/manifest-check';
import { planEviction } from './core/cache-policy';
import { checkDeletionNotice, contentToDrop } from './core/content-deletions';
import { DownloadSourceError } from './core/download-source';
import { primarySubnet } from './core/subnet';
import { interfaceNameOf, primaryIpv4Address } from './core/lan-interface';
import { checkPeerPass, encodePeerPass, PeerPassMemo } from './core/peer-pass-check';
import { chooseTransport } from './core/transport-choice';
import { AgentErrorCode, clipReason } from './core/agent-errors';
import { AcceptedTask, AssignmentCheck, checkAssignment, ReceivedAssignment, TrustAnchors } from './core/assignment-check';
import { checkCancellation } from './core/cancellation-check';
import { EMPTY_KEY_SET, keyRecordOf, seedKey } from './core/key-set';
import {
  isTerminal,
  LifecycleEffect,
  LifecycleEvent,
  LifecycleOptions,
  reduceTaskLifecycle,
  resolveLifecycleOptions,
  TaskLifecycle,
  toDeviceStatus,
} from './core/task-lifecycle';
import { downloadIntoCache } from './adapters/cache-download';
import { ContentCache } from './adapters/content-cache';
import { loadDeviceIdentity, TaskStateStore } from './adapters/device-identity';
import { HttpSource } from './adapters/http-source';
import { runInstaller } from './adapters/installer';
import { collectInventory, machineFacts, NetworkWatch, watchNetworkChanges } from './adapters/inventory-collector';
import { enroll, EnrollmentError, loadEnrollment } from './adapters/enrollment';
import { NatsLink, NatsLinkOptions } from './adapters/nats-link';
import { SpoolLimits } from './core/spool-policy';
import { startStatusServer } from './adapters/status-server';
import { importLegacyPinnedKey, loadPinnedKeys, PinnedKeysError, savePinnedKeys } from './adapters/pinned-keys';
import { RejectionLog } from './adapters/assignment-rejections';
import { CacheDownloadResult } from './adapters/cache-download';
import { LanClaimKey } from './adapters/lan-claims';
import { readInterfaceMtu } from './adapters/interface-mtu';
import { LanDownload } from './adapters/lan-download';
import { registerLanMetrics } from './adapters/lan-metrics';
import { PeerBlockServer } from './adapters/peer-block-server';
import { SwarmDownload, SwarmDownloadStats } from './adapters/swarm-download';
import { MulticastErrorCode, MulticastSocketError, UdpMulticastSocket } from './adapters/udp-multicast';

export const AGENT_VERSION = '0.1.0';

/** A peer pass is renewed once it has less than this left (passes last 10 minutes): a download never shows an expired one. */
const PEER_PASS_RENEW_MS = 3 * 60_000;

/** Distinct (task, reason) rejections remembered per run to report each once: far more than a device has tasks. */
const MAX_REJECTIONS_REMEMBERED = 10_000;

export interface AgentConfig {
  natsUrl: string;
  /**
   * How the device proves who it is to NATS: a provisioned creds file, or (absent) the credentials
   * from its enrollment in the state directory, enrolling first with `enroll` when it has none.
   * Neither: no credentials, which only an open server (a developer's) accepts.
   */
  natsCredsFile?: string;
  /** CA certificate of the NATS server's TLS certificate. */
  natsTlsCaFile?: string;
  /** The core's JetStream domain, behind a branch leaf node (see NatsLink). */
  natsJsDomain?: string;
  /** Enroll on first start: the control plane's URL and an enrollment token. */
  enroll?: { server: string; token: string };
  /** Use this device ID (first start only, then it is persisted); generated when absent. */
  deviceId?: string;
  stateDir: string;
  cacheDir: string;
  /** Report loopback and internal interfaces too (labs and tests on one machine). */
  includeLoopback: boolean;
  scanIntervalSeconds: number;
  /** How often download progress is fed to the lifecycle (which throttles reports further). */
  progressIntervalMs: number;
  /** A control-plane public key (base64 SPKI DER) to add to the pinned set in the state dir. */
  controlPlaneKey?: string;
  lifecycle?: Partial<LifecycleOptions>;
  /**
   * Variables of the agent's environment passed to install commands by name, beyond the minimal
   * allowlist of `core/installer-env.ts` (`--installer-env`).
   */
  installerEnv?: string[];
  /** Limits of the outgoing report spool (DEFAULT_SPOOL_LIMITS when absent). */
  spool?: SpoolLimits;
  /** Serve /metrics, /status and /healthz on this port (0 = any free one); absent = not served. */
  statusPort?: number;
  statusHost?: string;
  /** Take part in subnet multicast sessions (tasks whose settings ask for it); absent = off. */
  multicast?: AgentMulticastConfig;
  /** Fetch from and serve the office's peers (tasks whose settings allow peer downloads); absent = off. */
  peers?: AgentPeersConfig;
  logger: Logger;
}

/** The office swarm's settings of this device (docs/p2p.md). */
export interface AgentPeersConfig {
  /** IPv4 address to serve peers on; absent: the device's primary IPv4 address. */
  lanInterface?: string;
  /** Port of the peer block server (0 = any free), shared with the multicast session's repair. */
  port: number;
  /** Uploads to peers at once. */
  maxUploads: number;
  /** All uploads together at most this rate, kbit/s; 0 = no cap. */
  uploadRateKbps: number;
}

export interface AgentMulticastConfig {
  group: string;
  port: number;
  /** Election weight 0..255; 0 never becomes representative. */
  representativeWeight: number;
  /** IPv4 address of the LAN interface; absent: the device's primary IPv4 address. */
  lanInterface?: string;
  /** Port of the peer block server on the LAN interface (0 = any free); absent = no peer serving. */
  peerPort?: number;
}

interface Running {
  task: AcceptedTask;
  lifecycle: TaskLifecycle;
  abort?: AbortController;
  retryTimer?: NodeJS.Timeout;
  /** Events of one task are applied one at a time, in order. */
  chain: Promise<void>;
  /** The task's LAN session activity, when its download went through one (kept in memory only). */
  lan?: () => LanActivity;
  /** The way its download went and why (multicast, swarm or origin), and the swarm's figures when it used one. */
  transport?: { kind: string; reason: string | null; swarm?: () => SwarmDownloadStats };
  /** The download under way, settled when it ends (however it ends). */
  downloading?: Promise<void>;
}

/**
 * The edge agent: receives assignments, runs each task's lifecycle (a pure reducer) and carries out
 * its effects (report, download, retry timer, install), persisting every state before acting on it
 * so that a restart resumes where it stopped. It scans its inventory at start, on an interval and
 * when the network changes.
 */
export class AgentDaemon {
  private readonly tasks = new Map<string, Running>();
  private readonly options: LifecycleOptions;
  private deviceId = '';
  private cache!: ContentCache;
  private store!: TaskStateStore;
  private link!: NatsLink;
  private scanTimer?: NodeJS.Timeout;
  private netWatch?: NetworkWatch;
  private stopping = false;
  settings?: ResolvedSettings;
  readonly metrics: Registry = createMetricsRegistry('agent');
  private readonly transitions = counter(this.metrics, 'fleetcast_agent_task_transitions_total', 'Task state changes on this device', ['to']);
  private readonly received = counter(this.metrics, 'fleetcast_agent_bytes_received_total', 'Package bytes received, by source', ['source']);
  private readonly reports = counter(this.metrics, 'fleetcast_agent_reports_total', 'Status reports queued for the control plane');
  private readonly rejectedAssignments = counter(this.metrics, 'fleetcast_agent_assignments_rejected_total', 'Assignments refused before anything was downloaded or run, by reason code', ['code']);
  private readonly peersDropped = counter(this.metrics, 'fleetcast_agent_swarm_peers_dropped_total', 'Peers dropped for a content because they sent a block that did not match the manifest');
  private readonly cancellations = counter(this.metrics, 'fleetcast_agent_cancellations_total', 'Cancellations received: acted on (`accepted`) or ignored, by reason code', ['code']);
  /**
   * Tasks cancelled before this run saw their assignment (a live cancellation may overtake the
   * replay of the assignment): an assignment of one of them is not started. Bounded, like the rejections.
   */
  private readonly cancelledUnseen = new Set<string>();
  private readonly spoolDropped = counter(
    this.metrics,
    'fleetcast_agent_spool_dropped_total',
    'Spooled reports and scans dropped unpublished: superseded by a newer one or the spool full (its limits), corrupt or too large (set aside)',
    ['reason'],
  );
  /** Assignments are checked one at a time, in arrival order: each may update the pinned key file. */
  private intake: Promise<void> = Promise.resolve();
  /** This device's office and its policy as the topology service last said (null: no topology, or not placed yet). */
  private officePolicy: DeviceOfficePolicy | null = null;
  /** The policy above was read at least once in this run (a download that starts before then asks first). */
  private officePolicyRead = false;
  /** This run's key for claiming LAN sessions (in memory only). */
  private readonly claimKey = new LanClaimKey();
  private rejections!: RejectionLog;
  /** Rejections already logged at warn and reported in this run (a replayed stream repeats them). */
  private readonly rejectionsSeen = new Set<string>();
  private statusServer?: { port: number; close(): Promise<void> };
  /** The multicast socket, opened on the first multicast task and shared by all of them. */
  private multicastSocket?: Promise<UdpMulticastSocket>;
  /** The same socket once open, for the metrics. */
  private openSocket?: UdpMulticastSocket;
  /** Serves verified blocks to the subnet's peers; started with the multicast socket, on the same interface. */
  private peerServer?: Promise<PeerBlockServer | null>;
  /** The pinned keys as last read, for the peer server's pass checks (which cannot wait for a file read). */
  private trustSnapshot: TrustAnchors = { keys: EMPTY_KEY_SET, problem: 'not read yet' };
  /** This device's pass to its office's peers, as its header, and when it expires (ms). */
  private peerPass: { header: string; expiresAtMs: number } | null = null;
  private peerPassRefresh?: Promise<void>;
  /** What the pass headers peers show say, kept across their requests (core/peer-pass-check.ts). */
  private readonly peerPassMemo = new PeerPassMemo();

  constructor(private readonly config: AgentConfig) {
    this.options = resolveLifecycleOptions(config.lifecycle);
    // Read at scrape time from what the agent holds, so the figures cannot drift from the state.
    const tasks = this.tasks;
    new Gauge({
      name: 'fleetcast_agent_tasks',
      help: 'Tasks this device knows, by state',
      labelNames: ['state'],
      registers: [this.metrics],
      collect() {
        this.reset();
        for (const t of tasks.values()) if (t.lifecycle) this.inc({ state: t.lifecycle.state });
      },
    });
    registerLanMetrics(this.metrics, () => this.openSocket?.stats);
    const link = () => this.link;
    new Gauge({
      name: 'fleetcast_agent_spooled_messages',
      help: 'Reports and scans written to disk and not yet acknowledged by NATS',
      registers: [this.metrics],
      async collect() {
        this.set(link() ? await link().spooled() : 0);
      },
    });
  }

  /** The port of the local status endpoint, once started. */
  get statusPort(): number | undefined {
    return this.statusServer?.port;
  }

  get id(): string {
    return this.deviceId;
  }

  /** The device's NATS credentials: provisioned, from its enrollment, or from enrolling now. */
  private async natsAuth(): Promise<NatsLinkOptions['auth']> {
    const log = this.config.logger;
    if (this.config.natsCredsFile) return { credsFile: this.config.natsCredsFile };
    let enrollment = await loadEnrollment(this.config.stateDir);
    if (enrollment && enrollment.deviceId !== this.deviceId) {
      throw new EnrollmentError(AgentErrorCode.StateUnreadable, `the state directory's enrollment is for ${enrollment.deviceId}, not ${this.deviceId}; enroll again`);
    }
    if (!enrollment && this.config.enroll) {
      enrollment = await enroll({ ...this.config.enroll, stateDir: this.config.stateDir, device: await this.enrollmentFacts() });
      log.info({ deviceId: this.deviceId, server: this.config.enroll.server, group: enrollment.group }, 'device enrolled');
    }
    if (enrollment) return { jwt: enrollment.userJwt, seed: enrollment.seed };
    log.warn('no NATS credentials (not enrolled, no creds file): only an open NATS server will accept this agent');
    return undefined;
  }

  /** What the device tells the control plane about itself when it enrolls. */
  private async enrollmentFacts(): Promise<Omit<EnrollRequest, 'token' | 'publicKey'>> {
    return { deviceId: this.deviceId, ...machineFacts(), agentVersion: AGENT_VERSION };
  }

  async start(): Promise<void> {
    const log = this.config.logger;
    const identity = await loadDeviceIdentity(this.config.stateDir, { deviceId: this.config.deviceId });
    this.deviceId = identity.deviceId;
    const auth = await this.natsAuth();
    this.cache = await ContentCache.open(this.config.cacheDir);
    this.store = await TaskStateStore.open(this.config.stateDir);
    this.rejections = await RejectionLog.open(this.config.stateDir);
    await this.pinKeysAtStart();
    await mkdir(join(this.config.stateDir, 'work'), { recursive: true });
    this.link = new NatsLink({
      servers: this.config.natsUrl,
      auth,
      tlsCaFile: this.config.natsTlsCaFile,
      jsDomain: this.config.natsJsDomain,
      deviceId: this.deviceId,
      stateDir: this.config.stateDir,
      logger: log,
      onAssignment: (received) => this.onAssignment(received),
      onCancellation: (received) => this.onCancellation(received),
      onSettingsChanged: () => void this.refreshSettings(),
      onTopologyChanged: () => void this.refreshOfficePolicy('topology-changed'),
      spoolLimits: this.config.spool,
      onSpoolDropped: (reason, count) => this.spoolDropped.inc({ reason }, count),
    });
    log.info({ deviceId: this.deviceId, identity: identity.source, cacheDir: this.config.cacheDir, installerEnv: this.config.installerEnv ?? [] }, 'agent starting');

    const { tasks, unreadable } = await this.store.list();
    for (const u of unreadable) log.error(u, 'unreadable task state left in place');
    // Known tasks first, so that the stream's replay of their assignments is recognised as a repeat.
    for (const saved of tasks) this.tasks.set(saved.task.taskId, { task: saved.task, lifecycle: saved.lifecycle, chain: Promise.resolve() });
    await this.link.start();
    // Resume what a previous run left unfinished (after the link is up: resuming reports state).
    for (const saved of tasks) {
      if (isTerminal(saved.lifecycle.state)) continue;
      // Accepted by an earlier version from an unsigned assignment: not acted on any further.
      if (saved.task.signedBy === undefined) {
        const message = 'accepted from an unsigned assignment (version 1) by an earlier agent version; not resumed: issue the task again';
        this.dispatch(saved.task.taskId, { type: 'abandoned', reason: { code: AssignmentRejectCode.Unsigned, message } });
      } else this.dispatch(saved.task.taskId, { type: 'resumed-after-restart' });
    }
    await this.refreshSettings();
    await this.scan('start');
    await this.refreshOfficePolicy('start');
    this.scanTimer = setInterval(() => void this.scan('interval'), this.config.scanIntervalSeconds * 1000);
    this.netWatch = watchNetworkChanges(5000, () => void this.scan('network-change'), { includeInternal: this.config.includeLoopback });
    if (this.config.statusPort !== undefined) {
      this.statusServer = await startStatusServer({
        port: this.config.statusPort,
        host: this.config.statusHost ?? '127.0.0.1',
        registry: this.metrics,
        status: () => this.status(),
      });
      log.info({ port: this.statusServer.port }, 'status endpoint: /metrics, /status, /healthz');
    }
    const multicast = this.config.multicast;
    log.info(
      { deviceId: this.deviceId, resumed: tasks.length, multicast: multicast ? { group: `${multicast.group}:${multicast.port}`, weight: multicast.representativeWeight, peerPort: multicast.peerPort } : 'off' },
      'agent ready',
    );
  }

  async stop(): Promise<void> {
    this.stopping = true;
    clearInterval(this.scanTimer);
    this.netWatch?.stop();
    for (const t of this.tasks.values()) {
      clearTimeout(t.retryTimer);
      t.abort?.abort();
    }
    await Promise.all([...this.tasks.values()].map((t) => t.chain));
    await this.intake;
    await this.statusServer?.close();
    await this.link?.close();
    const socket = this.multicastSocket;
    this.multicastSocket = undefined;
    await socket?.then((s) => s.close(), () => undefined);
    await (await this.peerServer)?.close();
  }

  /** What the agent is doing: the device, its settings, its tasks and what waits to be sent. */
  async status() {
    const trust = await this.trustAnchors();
    return {
      deviceId: this.deviceId,
      settings: this.settings ?? null,
      office: this.officePolicy,
      spooledMessages: await this.link.spooled(),
      // Whom the device trusts to sign what it runs, and what it refused.
      controlPlaneKeys: { pinned: trust.keys.keys.map((k) => k.keyId), retired: trust.keys.retiredKeyIds, problem: trust.problem ?? null },
      rejectedAssignments: this.rejections.snapshot(),
      tasks: [...this.tasks.values()]
        .filter((t) => t.lifecycle)
        .map((t) => ({
          taskId: t.task.taskId,
          action: t.task.action,
          package: `${t.task.package.name} ${t.task.package.version}`,
          size: t.task.package.size,
          state: t.lifecycle.state,
          bytes: t.lifecycle.bytes,
          reason: t.lifecycle.reason,
          // The task's LAN session as this device sees it (role, LAN bytes sent, repairs, issue).
          lan: t.lan?.() ?? null,
          transport: t.transport ? { kind: t.transport.kind, reason: t.transport.reason, swarm: t.transport.swarm?.() ?? null } : null,
        })),
    };
  }

  /** Every assignment message, checked one at a time in arrival order; nothing is thrown back to the link. */
  private onAssignment(received: ReceivedAssignment): void {
    this.intake = this.intake
      .then(() => this.admit(received))
      .catch((error) => this.config.logger.error({ err: error, subject: received.subject }, 'assignment handling failed'));
  }

  /**
   * Verifies an assignment against the pinned keys before anything else happens; only an accepted
   * one becomes a task, built from the verified document. Keys its endorsements add and keys it
   * retires are saved first, so that the manifest check of the download sees the same set.
   */
  private async admit(received: ReceivedAssignment): Promise<void> {
    if (this.stopping) return; // the stream replays it at the next start
    const verdict = checkAssignment(received, await this.trustAnchors(), this.deviceId, Date.now());
    if (!verdict.ok) return this.rejectAssignment(received.subject, verdict);
    if (verdict.learnedKeyIds.length > 0 || verdict.retiredKeyIds.length > 0) {
      await savePinnedKeys(this.config.stateDir, verdict.keys.keys, verdict.keys.retiredKeyIds);
      this.config.logger.info(
        { learned: verdict.learnedKeyIds, retired: verdict.retiredKeyIds, pinned: verdict.keys.keys.map((k) => k.keyId) },
        'control-plane keys updated by a verified assignment',
      );
    }
    const task = verdict.task;
    const known = this.tasks.get(task.taskId);
    if (known) {
      // A retry from the control plane: a new attempt of a task this device holds as failed.
      if ((task.attempt ?? 1) > (known.lifecycle?.attempt ?? 1) && known.lifecycle?.state === 'failed') {
        known.task = task;
        this.config.logger.info({ taskId: task.taskId, attempt: task.attempt }, 'task retried by the control plane');
        this.dispatch(task.taskId, { type: 'assigned', task });
      }
      return; // otherwise a repeat (live and catch-up, or a resend): nothing to do
    }
    if (this.cancelledUnseen.has(task.taskId)) {
      this.config.logger.info({ taskId: task.taskId }, 'assignment of a task already cancelled: not started');
      return;
    }
    this.tasks.set(task.taskId, { task, lifecycle: null as unknown as TaskLifecycle, chain: Promise.resolve() });
    this.config.logger.info({ taskId: task.taskId, action: task.action, package: `${task.package.name} ${task.package.version}`, size: task.package.size, signedBy: task.signedBy }, 'task received');
    this.dispatch(task.taskId, { type: 'assigned', task });
  }

  /** Every cancellation message, checked in the same queue as assignments (after any assignment before it). */
  private onCancellation(received: ReceivedAssignment): void {
    this.intake = this.intake
      .then(() => this.cancel(received))
      .catch((error) => this.config.logger.error({ err: error, subject: received.subject }, 'cancellation handling failed'));
  }

  /**
   * Verifies a cancellation against the pinned keys, as an assignment is verified; only then is the
   * task stopped (the reducer decides how: `cancelled`). One that fails the check is counted and
   * logged, and changes nothing: not even a report, or a forger could mark tasks.
   */
  private async cancel(received: ReceivedAssignment): Promise<void> {
    if (this.stopping) return;
    const verdict = checkCancellation(received, await this.trustAnchors(), this.deviceId, Date.now());
    if (!verdict.ok) {
      this.cancellations.inc({ code: verdict.code });
      this.config.logger.warn({ subject: received.subject, taskId: verdict.taskId, code: verdict.code, reason: verdict.message }, 'cancellation ignored');
      return;
    }
    this.cancellations.inc({ code: 'accepted' });
    const t = this.tasks.get(verdict.taskId);
    if (!t) {
      if (this.cancelledUnseen.size >= MAX_REJECTIONS_REMEMBERED) this.cancelledUnseen.clear();
      this.cancelledUnseen.add(verdict.taskId);
      this.config.logger.info({ taskId: verdict.taskId }, 'cancellation of a task this device does not run');
      return;
    }
    if (t.lifecycle?.state === 'installing') {
      this.config.logger.warn({ taskId: verdict.taskId }, 'task cancelled while its install command runs: the command is not interrupted, its outcome is reported');
    }
    this.config.logger.info({ taskId: verdict.taskId, signedBy: verdict.signedBy, issuedAt: verdict.issuedAt }, 'task cancelled by the control plane');
    this.dispatch(verdict.taskId, { type: 'cancelled', reason: { code: 'TASK.CANCELLED', message: `cancelled by the control plane at ${verdict.issuedAt}` } });
  }

  /**
   * A refused assignment: counted every time; logged, recorded for `fleetcast-agent status` and
   * reported once per task and reason in a run (a replayed stream brings the same copies again).
   * The report (`failed` with the reason) puts it in the task's device list; it is not sent for a
   * task this device already runs, whose real state it would overwrite.
   */
  private async rejectAssignment(subject: string, rejection: Extract<AssignmentCheck, { ok: false }>): Promise<void> {
    const { code, message, taskId } = rejection;
    this.rejectedAssignments.inc({ code });
    const seenKey = `${taskId ?? subject}/${code}`;
    if (this.rejectionsSeen.has(seenKey)) {
      this.config.logger.debug({ subject, taskId, code, reason: message }, 'assignment rejected again');
      return;
    }
    // Bounded: a flood of distinct forgeries must not grow memory; forgetting only means one more report.
    if (this.rejectionsSeen.size >= MAX_REJECTIONS_REMEMBERED) this.rejectionsSeen.clear();
    this.rejectionsSeen.add(seenKey);
    this.config.logger.warn({ subject, taskId, code, reason: message }, 'assignment rejected');
    await this.rejections.record({ at: new Date().toISOString(), subject, taskId, code, message });
    if (taskId === null || this.tasks.has(taskId)) return;
    const seq = await this.store.nextSeq(taskId);
    const report: DeviceStatusV1 = {
      taskId,
      deviceId: this.deviceId,
      seq,
      state: 'failed',
      reportedAt: new Date().toISOString(),
      bytes: emptyBytesBySource(),
      reason: clipReason({ code, message }),
      hashVerified: false,
      exitCode: null,
      outputTail: null,
    };
    await this.link.publishStatus(report);
    this.reports.inc();
  }

  /** The pinned keys as the state dir holds them now (enrollment may have written them meanwhile), or why none. */
  private async trustAnchors(): Promise<TrustAnchors> {
    try {
      this.trustSnapshot = { keys: await loadPinnedKeys(this.config.stateDir) };
    } catch (error) {
      this.trustSnapshot = { keys: EMPTY_KEY_SET, problem: (error as Error).message };
    }
    return this.trustSnapshot;
  }

  /**
   * The pass header to show peers: the one held, renewed in the background once it has less than
   * PEER_PASS_RENEW_MS left (the first call waits for one). Null when the control plane gave none.
   */
  private async peerPassHeader(wait: boolean): Promise<string | null> {
    const now = Date.now();
    if (this.peerPass === null || this.peerPass.expiresAtMs - now < PEER_PASS_RENEW_MS) {
      this.peerPassRefresh ??= this.link
        .peerPass()
        .then((pass) => {
          this.peerPass = { header: encodePeerPass(pass), expiresAtMs: Date.parse(pass.document.expiresAt) };
        })
        .catch((error: unknown) => this.config.logger.warn({ err: (error as Error).message }, 'no peer pass from the control plane: peers will refuse this device'))
        .finally(() => {
          this.peerPassRefresh = undefined;
        });
      if (wait || this.peerPass === null) await this.peerPassRefresh;
    }
    return this.peerPass !== null && this.peerPass.expiresAtMs > Date.now() ? this.peerPass.header : null;
  }

  /** The pass as request headers, renewed in the background when it runs short. */
  private currentPassHeaders(): Record<string, string> {
    void this.peerPassHeader(false);
    return this.peerPass !== null ? { [PEER_PASS_HEADER]: this.peerPass.header } : {};
  }

  /**
   * Whom the peer server serves: a device whose pass the control plane signed for this office or an
   * office below it; nobody while this device's office is one that never shares (vpn).
   */
  private authorizePeer(header: string | undefined): string | null {
    const office = this.officePolicy;
    if (office !== null && !office.policy.shareWithPeers) return `office ${office.office.id} is a ${office.office.type} office: its devices serve no peers`;
    const check = checkPeerPass(header, this.trustSnapshot, office?.placed ? office.office.id : null, Date.now(), this.peerPassMemo);
    if (check.ok) return null;
    this.config.logger.debug({ reason: check.reason }, 'peer request refused');
    return check.reason;
  }

  /**
   * At start: carries over a key an earlier version pinned, seeds `--control-plane-key`, and says
   * whom the device trusts. A bad `--control-plane-key` stops the start (a configuration error);
   * an unreadable key file does not: assignments are refused, with the reason, until it is fixed.
   */
  private async pinKeysAtStart(): Promise<void> {
    const log = this.config.logger;
    const dir = this.config.stateDir;
    let seed: ReturnType<typeof keyRecordOf> | undefined;
    if (this.config.controlPlaneKey !== undefined) {
      seed = keyRecordOf(this.config.controlPlaneKey);
      if ('error' in seed) throw new PinnedKeysError(`--control-plane-key is ${seed.error}`);
    }
    try {
      const imported = await importLegacyPinnedKey(dir);
      if (imported !== null) log.warn({ keyId: imported }, 'carried over the control-plane key an earlier agent version pinned; enroll the device to pin the current set');
      let keys = await loadPinnedKeys(dir);
      if (seed !== undefined && 'record' in seed) {
        const seeded = seedKey(keys, seed.record);
        if (seeded.refused) log.warn({ keyId: seed.record.keyId }, `--control-plane-key not pinned: ${seeded.refused}`);
        if (seeded.added) {
          await savePinnedKeys(dir, seeded.set.keys, seeded.set.retiredKeyIds);
          keys = seeded.set;
        }
      }
      if (keys.keys.length === 0) {
        log.warn('no control-plane key pinned: every assignment is refused (ASSIGNMENT.NO_PINNED_KEY) until the device is enrolled or started with --control-plane-key');
      } else {
        log.info({ pinned: keys.keys.map((k) => k.keyId), retired: keys.retiredKeyIds }, 'control-plane keys pinned');
      }
    } catch (error) {
      log.error({ err: (error as Error).message }, 'control-plane keys unreadable: every assignment is refused until the key file is fixed or the device enrolled again');
    }
  }

  /** Queues an event for a task; events of one task run in order, never two at once. */
  private dispatch(taskId: string, event: LifecycleEvent): void {
    const t = this.tasks.get(taskId);
    if (!t) return;
    t.chain = t.chain.then(() => this.apply(t, event)).catch((error) => this.config.logger.error({ err: error, taskId, event: event.type }, 'task event failed'));
  }

  private async apply(t: Running, event: LifecycleEvent): Promise<void> {
    const before = t.lifecycle?.state;
    const { state, effects } = reduceTaskLifecycle(t.lifecycle ?? null, event, Date.now(), this.options);
    t.lifecycle = state;
    await this.store.save({ task: t.task, lifecycle: state });
    if (before !== state.state) {
      this.transitions.inc({ to: state.state });
      this.config.logger.info({ taskId: t.task.taskId, from: before ?? null, to: state.state, reason: state.reason ?? undefined }, 'task state');
    }
    for (const effect of effects) await this.run(t, effect);
  }

  private async run(t: Running, effect: LifecycleEffect): Promise<void> {
    const taskId = t.task.taskId;
    switch (effect.type) {
      case 'report': {
        const seq = await this.store.nextSeq(taskId);
        const report: DeviceStatusV1 | DeviceStatusV2 = toDeviceStatus(effect, { taskId, deviceId: this.deviceId, seq });
        // With multicast on, version 2 says whether (and how) the task used the LAN session.
        await this.link.publishStatus(this.config.multicast ? { ...report, lan: t.lan?.() ?? null } : report);
        this.reports.inc();
        return;
      }
      case 'start-download':
        t.downloading = this.download(t);
        return;
      case 'schedule-retry':
        clearTimeout(t.retryTimer);
        t.retryTimer = setTimeout(() => this.dispatch(taskId, { type: 'retry-due' }), Math.max(0, effect.atMs - Date.now()));
        return;
      case 'start-install':
        void this.install(t);
        return;
      case 'abort-download':
        clearTimeout(t.retryTimer);
        t.abort?.abort();
        return;
      case 'discard-partial':
        await this.discardPartial(t);
        return;
    }
  }

  /**
   * Removes a cancelled task's partial download once its download has let go of it; kept when
   * another unfinished task of this device downloads the same content.
   */
  private async discardPartial(t: Running): Promise<void> {
    await t.downloading;
    const contentId = t.task.package.contentId;
    const shared = [...this.tasks.values()].some((o) => o !== t && o.task.package.contentId === contentId && o.lifecycle && !isTerminal(o.lifecycle.state));
    if (shared) return this.config.logger.info({ taskId: t.task.taskId, contentId }, 'partial download kept: another task downloads the same content');
    const removed = await this.cache.discardPartial(contentId);
    this.config.logger.info({ taskId: t.task.taskId, contentId, removed }, 'partial download of a cancelled task removed');
  }

  private async download(t: Running): Promise<void> {
    const { task } = t;
    const abort = new AbortController();
    t.abort = abort;
    let pending = emptyBytesBySource();
    const flush = () => {
      if (pending.origin + pending.parent + pending.multicast + pending.peer === 0) return;
      this.dispatch(task.taskId, { type: 'download-progress', bytesBySource: pending });
      pending = emptyBytesBySource();
    };
    const ticker = setInterval(flush, this.config.progressIntervalMs);
    try {
      const manifest = acceptManifest(await this.link.signedManifest(task.package.contentId), await loadPinnedKeys(this.config.stateDir), task.package);
      await this.makeRoom(task);
      const interfaces = (await collectInventory(this.inventoryOptions(), 0)).interfaces;
      // An assignment replayed at start may come before the start's own read of the office.
      if (!this.officePolicyRead) await this.refreshOfficePolicy('download');
      const source = new HttpSource({
        url: task.package.downloadUrl,
        deviceId: this.deviceId,
        subnet: primarySubnet(interfaces),
        downloadToken: () => this.link.downloadToken(task.package.contentId),
        // The office link's cap for the fleet's downloads: the one device that crosses it reads no faster.
        rateKbps: this.officePolicy?.wanRateCapKbps ?? 0,
      });
      const onProgress = (kind: ByteSource, bytes: number) => {
        pending[kind] += bytes;
        this.received.inc({ source: kind }, bytes);
      };
      const choice = chooseTransport({
        multicastEnabled: this.config.multicast !== undefined,
        peersEnabled: this.config.peers !== undefined,
        settings: task.settings,
        office: this.officePolicy,
      });
      this.config.logger.info({ taskId: task.taskId, transport: choice.kind, reason: 'reason' in choice ? choice.reason : undefined }, 'transport chosen');
      t.transport = { kind: choice.kind, reason: 'reason' in choice ? choice.reason : null };
      let result: CacheDownloadResult;
      if (choice.kind === 'swarm') {
        const office = this.officePolicy;
        if (task.settings.useMulticast && this.config.multicast !== undefined && office !== null && !office.policy.multicastDiscovery) {
          // The summary says why the subnet had no session, as when the download went to the origin.
          const issue = { code: LanIssueCode.OfficePolicy, message: `office ${office.office.id} (${office.office.type}) takes no part in multicast sessions: downloaded through the office's peers` };
          t.lan = () => ({ role: 'none', sessionStartedAt: null, lanBytesSent: 0, repairs: 0, invalidPackets: 0, issue });
        }
        result = await this.swarmDownload(t, manifest, source, interfaces, abort.signal, onProgress);
      } else {
        const lan = await this.lanDownload(task, manifest, source, interfaces, abort.signal, onProgress);
        if (lan instanceof LanDownload) t.lan = () => lan.activity();
        else if (lan !== null) t.lan = () => ({ role: 'none', sessionStartedAt: null, lanBytesSent: 0, repairs: 0, invalidPackets: 0, issue: lan });
        result = lan instanceof LanDownload ? await lan.run() : await downloadIntoCache({ cache: this.cache, manifest, sources: [source], signal: abort.signal, onProgress });
      }
      clearInterval(ticker);
      flush();
      this.config.logger.info({ taskId: task.taskId, alreadyCached: result.alreadyCached, blocksFetched: result.blocksFetched, stats: source.stats }, 'download complete, hash verified');
      this.dispatch(task.taskId, { type: 'download-complete', hashVerified: true });
    } catch (error) {
      clearInterval(ticker);
      flush();
      if (this.stopping || abort.signal.aborted) return; // shutting down: the next start resumes
      const code = error instanceof FleetcastError ? error.code : AgentErrorCode.DownloadNetwork;
      // A rejected or missing manifest will not fix itself; a network or control-plane outage may.
      const retryable = error instanceof DownloadSourceError ? error.retryable : code !== AgentErrorCode.ManifestRejected && code !== ErrorCode.ManifestNotFound;
      this.config.logger.warn({ taskId: task.taskId, code, err: (error as Error).message, retryable }, 'download failed');
      this.dispatch(task.taskId, { type: 'download-failed', reason: { code: String(code), message: (error as Error).message }, retryable });
    } finally {
      t.abort = undefined;
    }
  }

  /**
   * The task's download through its office's swarm (docs/p2p.md): the peer server runs on the LAN
   * interface so that the office's other devices fetch from this one as soon as it holds blocks.
   */
  private async swarmDownload(
    t: Running,
    manifest: Manifest,
    origin: HttpSource,
    interfaces: readonly NetworkInterface[],
    signal: AbortSignal,
    onProgress: (kind: ByteSource, bytes: number) => void,
  ): Promise<CacheDownloadResult> {
    const { task } = t;
    const peers = this.config.peers!;
    const host = peers.lanInterface ?? primaryIpv4Address(interfaces, this.config.includeLoopback);
    const server = host === null ? null : await this.startPeerServer(host, peers.port);
    if (server === null) this.config.logger.warn({ taskId: task.taskId }, 'swarm: no peer server on this device (no IPv4 LAN address, or it could not start): fetching without serving');
    await this.peerPassHeader(true);
    const swarm = new SwarmDownload({
      cache: this.cache,
      manifest,
      taskId: task.taskId,
      announce: (request) => this.link.swarmAnnounce(request),
      origin,
      peerPort: server?.port ?? null,
      passHeader: () => this.currentPassHeaders()[PEER_PASS_HEADER] ?? null,
      signal,
      logger: this.config.logger,
      onProgress,
    });
    t.transport = { kind: 'swarm', reason: null, swarm: () => swarm.stats };
    try {
      return await swarm.run();
    } finally {
      this.peersDropped.inc(swarm.stats.badPeers.length);
      if (swarm.stats.mode === 'origin') t.transport.reason = swarm.stats.reason;
    }
  }

  /**
   * The task's download through its subnet's multicast session, when the agent's switch and the
   * task's settings both ask for one (also when the content is cached: the device then offers it to
   * the subnet); null otherwise. A session that cannot be set up (no LAN session from the control
   * plane, no socket) is logged and returned as the issue to report, and the download goes to the
   * origin as without multicast.
   */
  private async lanDownload(
    task: TaskAssignedV1,
    manifest: Manifest,
    origin: HttpSource,
    interfaces: readonly NetworkInterface[],
    signal: AbortSignal,
    onProgress: (kind: ByteSource, bytes: number) => void,
  ): Promise<LanDownload | LanIssue | null> {
    const multicast = this.config.multicast;
    if (multicast === undefined || !task.settings.useMulticast) return null;
    const office = this.officePolicy;
    if (office !== null && !office.policy.multicastDiscovery) {
      // The office's type rules the LAN session out (vpn: each device alone; wifi: no multicast on the air).
      const message = `office ${office.office.id} (${office.office.type}) takes no part in multicast sessions: downloaded from the origin`;
      this.config.logger.info({ taskId: task.taskId, office: office.office }, message);
      return { code: LanIssueCode.OfficePolicy, message };
    }
    // A device that may never represent and already holds the content has nothing to gain from the session.
    if (multicast.representativeWeight === 0 && (await this.cache.has(task.package.contentId))) return null;
    try {
      const session = await this.link.lanSession(task.taskId, this.claimKey.publicKey);
      const trust = await this.trustAnchors();
      if (session.claimTicket === undefined) this.config.logger.warn({ taskId: task.taskId }, 'the control plane gave no claim ticket: this device will not lead the LAN session');
      const socket = await this.openMulticastSocket(multicast, interfaces);
      const peerServer = await this.startPeerServer(socket.interfaceAddress, multicast.peerPort);
      await this.peerPassHeader(true);
      // Read per task: an interface's MTU may change while the agent runs (a VPN, a VLAN reconfigured).
      const lanInterface = interfaceNameOf(interfaces, socket.interfaceAddress);
      const lanMtu = lanInterface === null ? null : await readInterfaceMtu(lanInterface);
      return new LanDownload({
        peerPort: peerServer?.port,
        // Peers the control plane names are reached at the fleet's peer port, not at a port picked at random.
        subnetPeerPort: peerServer !== null && multicast.peerPort !== undefined && multicast.peerPort !== 0 ? multicast.peerPort : undefined,
        socket,
        cache: this.cache,
        manifest,
        task,
        deviceId: this.deviceId,
        session,
        weight: multicast.representativeWeight,
        claims: this.claimKey.sessionClaims(task.taskId, session.claimTicket, trust.keys),
        origin,
        signal,
        logger: this.config.logger,
        onProgress,
        peerHeaders: () => this.currentPassHeaders(),
        lanMtu: lanMtu ?? undefined,
      });
    } catch (error) {
      this.config.logger.warn({ taskId: task.taskId, code: (error as { code?: string }).code, err: (error as Error).message }, 'multicast unavailable: downloading from the origin');
      // The contract bounds the message (500 characters): an error's own text may be longer.
      return { code: LanIssueCode.MulticastUnavailable, message: `multicast unavailable (${(error as Error).message.slice(0, 400)}): downloaded from the origin` };
    }
  }

  /**
   * Once, on the LAN interface (the multicast socket's, or the swarm's); a server that cannot start is
   * logged and the agent serves no peers. Every request shows a peer pass (authorizePeer).
   */
  private startPeerServer(host: string, port: number | undefined): Promise<PeerBlockServer | null> {
    if (port === undefined) return Promise.resolve(null);
    const peers = this.config.peers;
    this.peerServer ??= PeerBlockServer.start({
      cache: this.cache,
      host,
      port,
      maxConcurrentUploads: peers?.maxUploads,
      uploadRateKbps: peers?.uploadRateKbps,
      authorize: (header) => this.authorizePeer(header),
    }).then(
      (server) => {
        this.config.logger.info({ url: server.url }, 'serving verified blocks to peers');
        return server;
      },
      (error: unknown) => {
        this.config.logger.warn({ err: (error as Error).message, port }, 'cannot serve blocks to peers');
        return null;
      },
    );
    return this.peerServer;
  }

  private openMulticastSocket(multicast: AgentMulticastConfig, interfaces: readonly NetworkInterface[]): Promise<UdpMulticastSocket> {
    if (this.multicastSocket === undefined) {
      const interfaceAddress = multicast.lanInterface ?? primaryIpv4Address(interfaces, this.config.includeLoopback);
      const opening =
        interfaceAddress === null
          ? Promise.reject(new MulticastSocketError(MulticastErrorCode.SocketFailed, 'no IPv4 address for the LAN session (give one with --lan-interface)'))
          : UdpMulticastSocket.open({ group: multicast.group, port: multicast.port, interfaceAddress });
      this.multicastSocket = opening;
      // A failed open is tried again by the next multicast task (the interface may come up).
      opening.then(
        (socket) => {
          this.openSocket = socket;
          this.config.logger.info({ group: socket.group, port: socket.port, interfaceAddress }, 'multicast socket open');
        },
        () => {
          if (this.multicastSocket === opening) this.multicastSocket = undefined;
        },
      );
    }
    return this.multicastSocket;
  }

  /**
   * Evicts least recently used content until the package fits the cache's size limit (from the
   * task's settings) and the disk; never content that an unfinished task needs.
   */
  private async makeRoom(task: TaskAssignedV1): Promise<void> {
    if (await this.cache.has(task.package.contentId)) return;
    const pinned = new Set([...this.tasks.values()].filter((t) => t.lifecycle && !isTerminal(t.lifecycle.state)).map((t) => t.task.package.contentId));
    pinned.add(task.package.contentId);
    const plan = planEviction({
      entries: await this.cache.entries(),
      pinned,
      incoming: task.package.size,
      limitBytes: task.settings.cacheSizeLimitBytes,
      freeBytes: await this.cache.freeBytes(),
    });
    if (!plan.fits) {
      throw new DownloadSourceError(AgentErrorCode.CacheNoSpace, `the cache cannot make room for ${task.package.size} bytes (${plan.shortBytes} bytes short; content of active tasks is kept)`, true);
    }
    for (const contentId of plan.evict) {
      await this.cache.evict(contentId);
      this.config.logger.info({ contentId, forTask: task.taskId }, 'evicted from the cache (least recently used)');
    }
  }

  private async install(t: Running): Promise<void> {
    const { task } = t;
    // Applied before the command runs: a cancellation queued ahead of it leaves the task `cancelled`, and nothing runs.
    this.dispatch(task.taskId, { type: 'install-started' });
    await t.chain;
    if (t.lifecycle.state !== 'installing') return;
    const result = await runInstaller({
      command: task.package.installCommand,
      args: task.package.installArgs,
      packagePath: this.cache.path(task.package.contentId),
      timeoutMs: task.package.timeoutSeconds * 1000,
      workRoot: join(this.config.stateDir, 'work'),
      passEnv: this.config.installerEnv,
      ...(task.package.confidential ? { preparePackage: (workDir: string) => this.openConfidential(task, workDir) } : {}),
    });
    this.config.logger.info({ taskId: task.taskId, exitCode: result.exitCode, timedOut: result.timedOut, ms: result.durationMs }, 'install command finished');
    this.dispatch(task.taskId, { type: 'install-finished', exitCode: result.exitCode, outputTail: result.outputTail, timedOut: result.timedOut, failure: result.failure });
  }

  /**
   * Opens a confidential package's sealed content from the cache into the install work directory
   * (removed with it after the command), with the key the control plane gives this device as a
   * target. Every block's tag is checked before its plaintext is written; the cache keeps only the
   * ciphertext, which is what peers and multicast serve.
   */
  private async openConfidential(task: AcceptedTask, workDir: string): Promise<string> {
    let key;
    try {
      key = await this.link.contentKey(task.package.contentId);
    } catch (error) {
      const why = error instanceof FleetcastError ? `${error.code}: ${error.message}` : (error as Error).message;
      throw Object.assign(new Error(`the content key was not given (${why})`), { code: AgentErrorCode.InstallContentKeyUnavailable });
    }
    if (key.contentId !== task.package.contentId) {
      throw Object.assign(new Error(`the control plane answered the key of ${key.contentId} for ${task.package.contentId}`), { code: AgentErrorCode.InstallContentKeyUnavailable });
    }
    const target = join(workDir, 'package');
    try {
      const size = await openFile(Buffer.from(key.key, 'base64'), key.packageId, this.cache.path(task.package.contentId), target);
      this.config.logger.info({ taskId: task.taskId, contentId: task.package.contentId, plainSize: size }, 'confidential package opened for install');
      return target;
    } catch (error) {
      throw Object.assign(new Error(`the sealed content does not open: ${(error as Error).message}`), { code: AgentErrorCode.InstallSealedContentInvalid });
    }
  }

  private inventoryOptions() {
    return {
      deviceId: this.deviceId,
      agentVersion: AGENT_VERSION,
      cache: this.cache,
      includeInternal: this.config.includeLoopback,
    };
  }

  /** Sends an inventory scan; settings are read again with it (how missed setting changes arrive). */
  private async scan(why: string): Promise<void> {
    try {
      const { scanSeq, seededFromClock } = await this.store.nextScanSeq(Date.now());
      if (seededFromClock === 'unreadable') this.config.logger.warn({ scanSeq }, 'the scan sequence file was unreadable: the counter starts again from the clock');
      const scan = await collectInventory(this.inventoryOptions(), scanSeq);
      await this.link.publishScan(scan);
      this.config.logger.debug({ why, interfaces: scan.interfaces.length }, 'inventory scan queued');
      if (why !== 'start') {
        await this.refreshSettings();
        await this.refreshOfficePolicy('scan');
      }
    } catch (error) {
      this.config.logger.warn({ err: (error as Error).message, why }, 'inventory scan failed');
    }
    await this.dropDeletedContent(why);
  }

  /**
   * Removes from the cache the content of packages the control plane deleted, as its signed notice
   * names them (asked at every scan). A notice that does not verify removes nothing; content a task
   * on this device still needs is kept.
   */
  private async dropDeletedContent(why: string): Promise<void> {
    const log = this.config.logger;
    try {
      const notice = await this.link.contentDeletions();
      const check = checkDeletionNotice(notice, await this.trustAnchors(), this.deviceId, Date.now());
      if (!check.ok) {
        log.warn({ why, reason: check.reason }, 'deletion notice refused: nothing removed from the cache');
        return;
      }
      const needed = new Set([...this.tasks.values()].filter((t) => t.lifecycle && !isTerminal(t.lifecycle.state)).map((t) => t.task.package.contentId));
      for (const contentId of contentToDrop(check.contentIds, await this.cache.list(), needed)) {
        if (await this.cache.evict(contentId)) log.info({ contentId, why }, 'removed from the cache: its package was deleted');
      }
    } catch (error) {
      log.warn({ err: (error as Error).message, why }, 'could not read the deletion notice; the cache is kept as it is');
    }
  }

  /**
   * This device's office and its policy, asked at start, after each scan and when the topology
   * changes (an event): a `vpn` office shares nothing with peers, a `wifi` office sends no multicast
   * (see `lanDownload`). Kept as it was when the control plane does not answer.
   */
  private async refreshOfficePolicy(why: string): Promise<void> {
    try {
      const next = await this.link.officePolicy();
      const changed = JSON.stringify(next) !== JSON.stringify(this.officePolicy);
      this.officePolicy = next;
      this.officePolicyRead = true;
      if (changed) this.config.logger.info({ why, office: next?.office ?? null, placed: next?.placed ?? null, policy: next?.policy ?? null, topologyVersion: next?.topologyVersion ?? null }, 'office policy');
    } catch (error) {
      this.config.logger.warn({ err: (error as Error).message, why }, 'could not read the office policy; keeping the previous one');
    }
  }

  private async refreshSettings(): Promise<void> {
    try {
      const next = await this.link.settings();
      const changed = JSON.stringify(next) !== JSON.stringify(this.settings);
      this.settings = next;
      if (changed) this.config.logger.info({ settings: next satisfies AgentSettings }, 'agent settings');
    } catch (error) {
      this.config.logger.warn({ err: (error as Error).message }, 'could not read agent settings; keeping the previous ones');
    }
  }
}
