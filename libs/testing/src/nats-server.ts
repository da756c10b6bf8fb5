import { ChildProcess, spawn } from 'node:child_process';
import { accessSync, constants, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { Authenticator, connect, ConnectionOptions } from 'nats';
import { natsAuthConfig, ServiceRole, TRUST_FILES, writeTrustDir } from '@fleetcast/trust';
import { natsAuthenticator } from '@fleetcast/nats';
import { track } from './cleanup-registry';
import { freePort } from './free-port';
import { LineRingBuffer } from './line-ring-buffer';
import { waitFor } from './wait-for';

export interface StartNatsServerOptions {
  /** On by default: what must not be lost travels through JetStream. */
  jetstream?: boolean;
  /** A fixed port; by default a free one is chosen. */
  port?: number;
  /**
   * The address to listen on (default 127.0.0.1): a lab host's address, so that agents in the
   * lab's namespaces reach the server across the shaped WAN.
   */
  host?: string;
  /** The nats-server executable; by default found as described at `findNatsServerBinary`. */
  binary?: string;
  /** Further nats-server arguments (`-DV` for protocol tracing while debugging a test). */
  args?: string[];
  /** How long a start may take until clients (and JetStream) are served. */
  startTimeoutMs?: number;
  /**
   * `operator` (the default): operator mode with a fresh trust chain of its own (libs/trust), as in
   * production; every client needs credentials (`trust`). `open`: no authentication at all, for the
   * one test that shows such a client is refused by an operator-mode server, and tests of the
   * harness itself.
   */
  auth?: 'operator' | 'open';
  /** TLS required of every client, with this certificate; clients trust `caFile` (see `makeTestCertificates`). */
  tls?: { certFile: string; keyFile: string; caFile: string };
}

/** The trust chain of a test server: where its files are and how to connect as someone. */
export interface TestTrust {
  /** A trust directory as `fleetcast-trust init` writes it (secrets, creds, nats-auth.conf). */
  readonly dir: string;
  /** The creds file of a service user, or of the unrestricted admin user. */
  credsFile(role: ServiceRole | 'admin' | 'system'): string;
  /** Connection options for a user (default: admin) of this server. */
  connectOptions(role?: ServiceRole | 'admin' | 'system'): Pick<ConnectionOptions, 'servers' | 'authenticator' | 'tls'>;
}

export interface HaltOptions {
  /** SIGTERM shuts down cleanly; SIGKILL simulates a crash (JetStream keeps what it had synced). */
  signal?: 'SIGTERM' | 'SIGKILL';
}

export interface NatsServer {
  /** `nats://<host>:<port>` (host 127.0.0.1 unless chosen), stable across `halt`/`start`. */
  readonly url: string;
  readonly port: number;
  /** JetStream's store; kept across `halt`/`start`, removed by `stop`. */
  readonly storeDir: string;
  readonly running: boolean;
  /** The server process's ID while it runs (for its resident memory in benchmarks). */
  readonly pid: number | undefined;
  /** The server's trust chain; null for an open server. */
  readonly trust: TestTrust | null;
  /** Connection options of an unrestricted user (with no credentials on an open server). */
  adminConnectOptions(): Pick<ConnectionOptions, 'servers' | 'authenticator' | 'tls'>;
  /** The last lines the server logged. */
  logs(): string;
  /** Stops the server but keeps its port and store: an outage that `start` ends. */
  halt(options?: HaltOptions): Promise<void>;
  /** Starts the server again on the same port and store, and waits until it serves clients. */
  start(): Promise<void>;
  /** `halt` then `start`. */
  restart(options?: HaltOptions): Promise<void>;
  /** Stops the server for good and removes its temp dir. Idempotent. */
  stop(): Promise<void>;
}

export class NatsServerNotFoundError extends Error {
  readonly code = 'TESTING.NATS_SERVER_NOT_FOUND';

  constructor(searched: string[]) {
    super(
      `nats-server not found (looked at ${searched.join(', ')}); install it (Debian: apt-get install nats-server) ` +
        `or set FLEETCAST_NATS_SERVER_BIN to its path`,
    );
    this.name = 'NatsServerNotFoundError';
  }
}

export class NatsServerStartError extends Error {
  readonly code = 'TESTING.NATS_SERVER_START_FAILED';

  constructor(
    message: string,
    readonly logs: string,
    options?: { cause?: unknown },
  ) {
    super(`${message}\nnats-server output:\n${logs}`, options);
    this.name = 'NatsServerStartError';
  }
}

/** Debian installs the server outside a normal user's PATH. */
const WELL_KNOWN_LOCATIONS = ['/usr/sbin/nats-server', '/usr/local/bin/nats-server'];

/** A fresh port can be taken between choosing it and binding it; this many tries make that moot. */
const PORT_ATTEMPTS = 3;

/** A start on a loaded CI machine (JetStream recovering a store) takes a few seconds at worst. */
const DEFAULT_START_TIMEOUT_MS = 20_000;

/** A clean shutdown takes milliseconds; past this the server is killed. */
const HALT_TIMEOUT_MS = 10_000;

/**
 * The nats-server executable: `explicit`, else $FLEETCAST_NATS_SERVER_BIN, else the first on PATH,
 * else a well-known install location.
 */
export function findNatsServerBinary(explicit?: string): string {
  const fromEnv = process.env['FLEETCAST_NATS_SERVER_BIN'];
  const candidates = explicit
    ? [explicit]
    : fromEnv
      ? [fromEnv]
      : [
          ...(process.env['PATH'] ?? '')
            .split(delimiter)
            .filter((dir) => dir.length > 0)
            .map((dir) => join(dir, 'nats-server')),
          ...WELL_KNOWN_LOCATIONS,
        ];
  for (const candidate of candidates) {
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // Not here; try the next place.
    }
  }
  throw new NatsServerNotFoundError(explicit || fromEnv ? candidates : ['PATH', ...WELL_KNOWN_LOCATIONS]);
}

/** Starts a private nats-server (on 127.0.0.1 unless `host`) with its own temp store, ready for clients when it resolves. */
export async function startNatsServer(options: StartNatsServerOptions = {}): Promise<NatsServer> {
  const binary = findNatsServerBinary(options.binary);
  const root = mkdtempSync(join(tmpdir(), 'fleetcast-nats-'));
  const authConf = (options.auth ?? 'operator') === 'operator' ? await makeTrust(root) : null;
  let lastError: unknown;
  for (let attempt = 1; attempt <= PORT_ATTEMPTS; attempt++) {
    const port = options.port ?? (await freePort(options.host));
    const server = new LocalNatsServer(binary, port, root, options, authConf);
    try {
      await server.start();
      return server;
    } catch (error) {
      lastError = error;
      await server.discard();
      const portTaken = error instanceof NatsServerStartError && /address already in use/i.test(error.logs);
      if (!portTaken || options.port !== undefined) break;
    }
  }
  rmSync(root, { recursive: true, force: true });
  throw lastError;
}

/** A trust chain in the server's temp dir; the resolver keeps its account JWTs next to it, across restarts. */
async function makeTrust(root: string): Promise<{ confFile: string; dir: string }> {
  const dir = join(root, 'trust');
  const trust = await writeTrustDir(dir, { resolverDir: join(root, 'resolver') });
  const confFile = join(root, 'auth.conf');
  writeFileSync(confFile, natsAuthConfig(trust, join(root, 'resolver')));
  return { confFile, dir };
}

/** One nats-server process; `startNatsServer` and `startNatsCluster` make them. */
export class LocalNatsServer implements NatsServer {
  readonly url: string;
  readonly trust: TestTrust | null;
  readonly storeDir: string;
  private child: ChildProcess | undefined;
  private exited: Promise<void> = Promise.resolve();
  private readonly output = new LineRingBuffer(200);
  private stopped = false;
  private readonly untrack: () => void;

  constructor(
    private readonly binary: string,
    readonly port: number,
    private readonly root: string,
    private readonly options: StartNatsServerOptions,
    private readonly auth: { confFile: string; dir: string } | null,
  ) {
    this.url = `nats://${options.host ?? '127.0.0.1'}:${port}`;
    const url = this.url;
    const tls = options.tls ? { tls: { caFile: options.tls.caFile } } : {};
    this.trust = auth
      ? {
          dir: auth.dir,
          credsFile: (role) => join(auth.dir, role === 'admin' ? TRUST_FILES.adminCreds : role === 'system' ? TRUST_FILES.systemCreds : TRUST_FILES.serviceCreds(role)),
          connectOptions(role = 'admin') {
            return { servers: url, authenticator: natsAuthenticator({ credsFile: this.credsFile(role) }) as Authenticator, ...tls };
          },
        }
      : null;
    this.storeDir = join(root, 'store');
    this.untrack = track({ stop: () => this.stop(), killNow: () => this.killNow() });
  }

  get running(): boolean {
    return this.child !== undefined;
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  adminConnectOptions(): Pick<ConnectionOptions, 'servers' | 'authenticator' | 'tls'> {
    return this.trust ? this.trust.connectOptions('admin') : { servers: this.url, ...(this.options.tls ? { tls: { caFile: this.options.tls.caFile } } : {}) };
  }

  logs(): string {
    return this.output.text();
  }

  async start(): Promise<void> {
    if (this.stopped) throw new Error(`nats-server on port ${this.port} was stopped for good; start a new one`);
    if (this.child) return;
    const jetstream = this.options.jetstream ?? true;
    const args = ['-a', this.options.host ?? '127.0.0.1', '-p', String(this.port), '-n', `fleetcast-test-${this.port}`];
    if (jetstream) args.push('-js', '-sd', this.storeDir);
    if (this.auth) args.push('-c', this.auth.confFile);
    if (this.options.tls) args.push('--tls', '--tlscert', this.options.tls.certFile, '--tlskey', this.options.tls.keyFile);
    args.push(...(this.options.args ?? []));
    const child = spawn(this.binary, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    this.child = child;
    for (const source of ['stdout', 'stderr'] as const) {
      child[source]!.setEncoding('utf8');
      child[source]!.on('data', (chunk: string) => this.output.write(chunk, source));
    }
    let exitedEarly: (reason: Error) => void = () => undefined;
    const earlyExit = new Promise<never>((_, reject) => {
      exitedEarly = reject;
    });
    earlyExit.catch(() => undefined);
    this.exited = new Promise<void>((resolve) => {
      const onGone = (code: number | null, signal: NodeJS.Signals | null, error?: Error): void => {
        if (this.child === child) this.child = undefined;
        exitedEarly(
          new NatsServerStartError(
            error ? `nats-server could not be started: ${error.message}` : `nats-server exited ${signal ? `by ${signal}` : `with code ${code}`} while starting`,
            this.logs(),
            { cause: error },
          ),
        );
        resolve();
      };
      child.once('exit', (code, signal) => onGone(code, signal));
      child.once('error', (error) => onGone(null, null, error));
    });

    const abort = new AbortController();
    try {
      await Promise.race([
        earlyExit,
        waitFor(() => this.probe(jetstream), {
          timeoutMs: this.options.startTimeoutMs ?? DEFAULT_START_TIMEOUT_MS,
          intervalMs: 50,
          description: `nats-server on port ${this.port} to accept clients${jetstream ? ' with JetStream' : ''}`,
          signal: abort.signal,
        }),
      ]);
    } catch (error) {
      if (error instanceof NatsServerStartError) throw error;
      throw new NatsServerStartError((error as Error).message, this.logs(), { cause: error });
    } finally {
      abort.abort();
    }
  }

  async halt(options: HaltOptions = {}): Promise<void> {
    const child = this.child;
    if (!child) return;
    signalPid(child.pid, options.signal ?? 'SIGTERM');
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<'late'>((resolve) => {
      timer = setTimeout(() => resolve('late'), HALT_TIMEOUT_MS);
    });
    const outcome = await Promise.race([this.exited.then(() => 'exited' as const), late]);
    clearTimeout(timer);
    if (outcome === 'late') {
      signalPid(child.pid, 'SIGKILL');
      await this.exited;
    }
  }

  async restart(options: HaltOptions = {}): Promise<void> {
    await this.halt(options);
    await this.start();
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    await this.halt();
    rmSync(this.root, { recursive: true, force: true });
    this.untrack();
  }

  /** After a failed first start: the process goes, the shared temp dir stays for the next attempt. */
  async discard(): Promise<void> {
    this.stopped = true;
    await this.halt();
    this.untrack();
  }

  private killNow(): void {
    if (this.child) signalPid(this.child.pid, 'SIGKILL');
    rmSync(this.root, { recursive: true, force: true });
  }

  /** Ready means a client can connect and, with JetStream, that the JetStream API answers. */
  private async probe(jetstream: boolean): Promise<boolean> {
    const nc = await connect({ ...this.adminConnectOptions(), reconnect: false, timeout: 1_000 });
    try {
      if (jetstream) await nc.jetstreamManager({ timeout: 1_000 });
      return true;
    } finally {
      await nc.close();
    }
  }
}

function signalPid(pid: number | undefined, signal: NodeJS.Signals): void {
  if (pid === undefined) return;
  try {
    process.kill(pid, signal);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ESRCH') throw error;
  }
}
