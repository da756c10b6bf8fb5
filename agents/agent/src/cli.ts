#!/usr/bin/env node
import { Command, InvalidArgumentError } from 'commander';
import { createLogger, startTelemetry } from '@fleetcast/telemetry';
import { AgentConfigError, resolveAgentConfig } from './config/agent.config';
import { AGENT_VERSION, AgentDaemon } from './daemon';
import { loadDeviceIdentity, TaskStateStore } from './adapters/device-identity';
import { enroll } from './adapters/enrollment';
import { loadPinnedKeys } from './adapters/pinned-keys';
import { readRejections } from './adapters/assignment-rejections';
import { machineFacts } from './adapters/inventory-collector';

const int = (v: string) => {
  const n = Number(v);
  if (!Number.isInteger(n)) throw new InvalidArgumentError('not a whole number');
  return n;
};

/** Longest wait for the last spans at exit: well inside the 10 s grace `docker stop` gives before SIGKILL. */
const TELEMETRY_FLUSH_MS = 3000;

const program = new Command('fleetcast-agent').version(AGENT_VERSION).description('Fleetcast edge agent');

program
  .command('run', { isDefault: true })
  .description('run the agent daemon')
  .option('--config <file>', 'JSON config file (keys as the long options, camelCase)')
  .option('--nats <url>', 'NATS server URL')
  .option('--nats-creds <file>', "a provisioned NATS creds file (default: the enrollment's credentials in the state dir)")
  .option('--nats-ca <file>', "CA certificate (PEM) of the NATS server's TLS certificate")
  .option('--nats-js-domain <name>', "the core's JetStream domain, when --nats is a branch leaf node (e.g. core)")
  .option('--server <url>', 'control-plane URL, to enroll on first start (with --enroll-token)')
  .option('--enroll-token <token>', 'enrollment token, to enroll on first start (with --server)')
  .option('--device-id <id>', 'device ID (used on first start, then persisted)')
  .option('--state-dir <dir>', 'identity, task state and outgoing spool')
  .option('--cache-dir <dir>', 'local distribution cache (default: <state-dir>/cache)')
  .option('--include-loopback', 'report loopback interfaces too (labs on one machine)')
  .option('--scan-interval-seconds <n>', 'inventory scan interval', int)
  .option('--control-plane-key <base64>', 'a control-plane public key to pin (SPKI DER, base64), added to <state-dir>/control-plane-keys.json')
  .option(
    '--installer-env <name>',
    'pass this variable of the agent\'s environment to install commands (repeat for more); they get only PATH, the platform\'s essentials and FLEETCAST_PACKAGE_PATH otherwise',
    (name: string, previous?: string[]) => [...(previous ?? []), name],
  )
  .option('--blocked-fail-after-seconds <n>', 'fail a task blocked this long by something only the device can end, e.g. no cache space (default 600)', int)
  .option('--spool-max-files <n>', 'most reports and scans kept on disk while NATS is unreachable (default 1000)', int)
  .option('--spool-max-bytes <n>', 'most bytes of them (default 16 MiB); final reports are kept beyond either limit', int)
  .option('--status-port <n>', 'serve /metrics, /status and /healthz on this local port', int)
  .option('--status-host <address>', 'address of that endpoint (default 127.0.0.1)')
  .option('--multicast', 'take part in subnet multicast sessions for tasks that ask for them (the default)')
  .option('--no-multicast', 'download from the origin only, whatever the task says')
  .option('--multicast-group <address>', 'IPv4 multicast group of the sessions (default 239.255.70.67)')
  .option('--multicast-port <n>', 'UDP port of the sessions (default 47470)', int)
  .option('--representative-weight <n>', 'election weight 0-255: higher wins, 0 never becomes representative (default 1)', int)
  .option('--lan-interface <ipv4>', 'IPv4 address of the LAN interface for sessions (default: the primary IPv4 address)')
  .option('--peer-port <n>', 'TCP port serving verified blocks to peers on the LAN interface (default 47471; 0 = any free)', int)
  .option('--peers', "fetch from and serve the office's peers for tasks that allow it (the default)")
  .option('--no-peers', 'no office swarm: fetch from the origin unless a multicast session serves the task')
  .option('--peer-max-uploads <n>', 'uploads to peers at once (default 4)', int)
  .option('--peer-upload-kbps <n>', 'all uploads to peers together at most this rate, kbit/s (default 0: no cap)', int)
  .option('--otlp-endpoint <url>', 'OTLP/HTTP endpoint for traces (default: OTEL_EXPORTER_OTLP_ENDPOINT; off when neither is set)')
  .action(async (opts) => {
    let config;
    try {
      config = resolveAgentConfig(opts, process.env);
    } catch (error) {
      console.error((error as Error).message);
      process.exit(error instanceof AgentConfigError ? 2 : 1);
    }
    const telemetry = startTelemetry('agent', config.otlpEndpoint);
    const logger = createLogger('agent', config.logLevel);
    const daemon = new AgentDaemon({
      natsUrl: config.nats,
      natsCredsFile: config.natsCreds,
      natsTlsCaFile: config.natsCa,
      natsJsDomain: config.natsJsDomain,
      enroll: config.server && config.enrollToken ? { server: config.server, token: config.enrollToken } : undefined,
      deviceId: config.deviceId,
      stateDir: config.stateDir,
      cacheDir: config.cacheDir,
      includeLoopback: config.includeLoopback,
      scanIntervalSeconds: config.scanIntervalSeconds,
      progressIntervalMs: config.progressIntervalMs,
      lifecycle: { blockedFailAfterMs: config.blockedFailAfterSeconds * 1000 },
      controlPlaneKey: config.controlPlaneKey,
      spool: { maxFiles: config.spoolMaxFiles, maxBytes: config.spoolMaxBytes },
      installerEnv: config.installerEnv,
      statusPort: config.statusPort,
      statusHost: config.statusHost,
      multicast: config.multicast
        ? { group: config.multicastGroup, port: config.multicastPort, representativeWeight: config.representativeWeight, lanInterface: config.lanInterface, peerPort: config.peerPort }
        : undefined,
      peers: config.peers ? { lanInterface: config.lanInterface, port: config.peerPort, maxUploads: config.peerMaxUploads, uploadRateKbps: config.peerUploadKbps } : undefined,
      logger,
    });
    const shutdown = (signal: string) => {
      logger.info({ signal }, 'agent stopping');
      void daemon
        .stop()
        // Export the last spans (the final reports), but never let an unreachable backend hold up the exit.
        .then(() => Promise.race([telemetry.shutdown().catch(() => undefined), new Promise((r) => setTimeout(r, TELEMETRY_FLUSH_MS))]))
        .then(() => process.exit(0));
    };
    process.once('SIGTERM', () => shutdown('SIGTERM'));
    process.once('SIGINT', () => shutdown('SIGINT'));
    try {
      await daemon.start();
    } catch (error) {
      logger.fatal({ err: error }, `agent failed to start: ${(error as Error).message}`);
      setTimeout(() => process.exit(1), 100);
    }
  });

program
  .command('enroll')
  .description('enroll this device with the control plane: a seat, NATS credentials and the pinned signing keys')
  .requiredOption('--server <url>', 'control-plane URL (the API gateway)')
  .requiredOption('--token <token>', 'enrollment token from the administrator')
  .option('--state-dir <dir>', 'the agent state directory')
  .option('--device-id <id>', 'device ID (used on first start, then persisted)')
  .option('--config <file>', 'JSON config file')
  .action(async (opts) => {
    const { token, server, ...rest } = opts;
    const config = resolveAgentConfig(rest, process.env);
    const identity = await loadDeviceIdentity(config.stateDir, { deviceId: config.deviceId });
    const enrolled = await enroll({ server, token, stateDir: config.stateDir, device: { deviceId: identity.deviceId, ...machineFacts(), agentVersion: AGENT_VERSION } });
    console.log(`enrolled ${enrolled.deviceId}${enrolled.group ? ` in group ${enrolled.group}` : ''}; credentials and pinned keys are in ${config.stateDir}`);
  });

program
  .command('status')
  .description("print this device's tasks and their states")
  .option('--state-dir <dir>', 'the agent state directory')
  .option('--config <file>', 'JSON config file')
  .action(async (opts) => {
    const config = resolveAgentConfig(opts, process.env);
    const store = await TaskStateStore.open(config.stateDir);
    const { tasks, unreadable } = await store.list();
    for (const t of tasks) {
      const l = t.lifecycle;
      const bytes = l.bytes.origin + l.bytes.parent + l.bytes.multicast + l.bytes.peer;
      console.log(`${t.task.taskId}  ${t.task.action.padEnd(10)} ${l.state.padEnd(11)} ${t.task.package.name} ${t.task.package.version}  ${bytes}/${t.task.package.size} bytes${l.reason ? `  ${l.reason.code}: ${l.reason.message}` : ''}`);
    }
    for (const u of unreadable) console.log(`unreadable: ${u.file}: ${u.error}`);
    if (tasks.length === 0 && unreadable.length === 0) console.log('no tasks');
    // Whom the device trusts to sign what it runs, and the assignments it refused.
    const keys = await loadPinnedKeys(config.stateDir).then(
      (set) => (set.keys.length > 0 ? set.keys.map((k) => k.keyId).join(', ') : 'none (every assignment is refused: enroll the device)'),
      (error: Error) => `unreadable: ${error.message}`,
    );
    console.log(`\ncontrol-plane keys pinned: ${keys}`);
    const rejected = await readRejections(config.stateDir);
    if (rejected.total > 0) {
      console.log(`assignments rejected: ${rejected.total} (${Object.entries(rejected.byCode).map(([code, n]) => `${code} ${n}`).join(', ')}); latest:`);
      for (const r of rejected.recent.slice(-5)) console.log(`  ${r.at}  ${r.taskId ?? '(no task ID)'}  ${r.code}: ${r.message}`);
    }
  });

program.parseAsync(process.argv).catch((error) => {
  console.error(error.message);
  process.exit(1);
});
