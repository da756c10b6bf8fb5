import dgram, { RemoteInfo } from 'node:dgram';
import { FleetcastError } from '@fleetcast/contracts';
import {
  ClaimCredentials,
  ClaimRejection,
  DEFAULT_MULTICAST_GROUP_V4,
  DEFAULT_MULTICAST_PORT,
  MULTICAST_TTL,
  Packet,
  PacketTagger,
  SymbolEncoder,
  createPacketTagger,
  createSymbolEncoder,
  decodePacket,
  encodePacket,
  peekSenderId,
  peekSessionId,
} from '@fleetcast/lan-protocol';

/**
 * The one place that touches the subnet multicast socket: a UDP/IPv4 socket bound to the session
 * port, joined to the group on one interface, sending with TTL 1. Packets are decoded here (never
 * throwing into the socket loop) and handed to the session they name; everything else is counted.
 *
 * Pacing is not done here: the sender session reducer decides when each packet may go (rate and
 * minimum gap, time as a parameter) and the multicast sender calls `send` at those times. This
 * class only keeps the kernel's send queue from growing without bound.
 */

export const MulticastErrorCode = {
  SocketFailed: 'MULTICAST.SOCKET_FAILED',
  SessionKeyMismatch: 'MULTICAST.SESSION_KEY_MISMATCH',
  Closed: 'MULTICAST.CLOSED',
} as const;

export class MulticastSocketError extends FleetcastError {
  constructor(code: string, message: string) {
    super(code, message);
    this.name = 'MulticastSocketError';
  }
}

export interface UdpMulticastOptions {
  group?: string;
  port?: number;
  /** IPv4 address of the interface on the subnet: membership, and where multicast goes out. */
  interfaceAddress: string;
  /**
   * Receive buffer asked of the kernel. 4 MiB holds ~2,800 full datagrams, about 35 ms at 1 Gbit/s:
   * a garbage collection or a block's SHA-256 does not overflow it. Linux caps it at
   * net.core.rmem_max; what is left over is loss the repair rounds recover.
   */
  receiveBufferBytes?: number;
  /**
   * Tests only: drop this fraction of decoded packets on receipt, at random, to simulate a lossy
   * LAN on loopback (counted as `lossInjected`). 0 in production.
   */
  injectedReceiveLoss?: number;
  /** Randomness of the injected loss. */
  random?: () => number;
}

/** Counters, exported later as metrics (packets sent, received, dropped as invalid by code). */
export interface MulticastSocketStats {
  packetsSent: number;
  bytesSent: number;
  sendErrors: number;
  packetsReceived: number;
  bytesReceived: number;
  /** Decode failures by PACKET.* code (BAD_AUTH counts forged packets). */
  droppedInvalid: Record<string, number>;
  /** Valid-looking datagrams for sessions nobody here joined (other tasks on the subnet). */
  otherSession: number;
  /** Our own datagrams handed back by multicast loopback, dropped before decoding (see SessionHandler.localSenderId). */
  ownEcho: number;
  lossInjected: number;
}

/** Where a datagram came from: what the session layer reads of it (a peer's address). */
export type PacketFrom = Pick<RemoteInfo, 'address' | 'port'>;

/** A session's view of the socket. */
export interface SessionHandler {
  onPacket(packet: Packet, from: PacketFrom): void;
  /** A datagram for this session that failed to decode (a forgery, damage), by code. */
  onInvalid?(code: string): void;
  /**
   * The sender ID this handler sends under. Multicast loopback hands every datagram we send back to
   * our own socket; once a handler names its sender ID, datagrams of the session carrying it are
   * dropped before decoding (a CRC and an HMAC each, for every packet the representative sends),
   * for every handler of the session: a socket is one device's, and each of its handlers ignores
   * the device's own packets anyway.
   */
  localSenderId?: string;
  /**
   * The packet types this handler reads. A session mux (`session-mux.ts`) hands each packet only to
   * the handlers that read its type; the socket itself hands every packet to each of its handlers.
   */
  accepts?: readonly Packet['type'][];
}

/**
 * What the session drivers (election, sender, receiver, LAN download) need of the subnet's
 * multicast: joining a session, sending under it and hearing its packets, already decoded and
 * authenticated. `UdpMulticastSocket` is the real one; tests run whole sessions on an in-memory LAN.
 */
export interface MulticastPort {
  join(sessionId: string, lanKey: Uint8Array | null, handler: SessionHandler, claims?: SessionClaims): SessionBinding;
}

/**
 * Who may claim a session (see lan-protocol `auth/claim-proof.ts`): this device's own ticket and
 * key, with which its ANNOUNCE and CLAIM go out signed (null when the control plane gave it none: it
 * must not claim), and the check every received ANNOUNCE and CLAIM must pass before any handler of
 * the session sees it. A session joined without one accepts unsigned claims (tests, benchmarks).
 */
export interface SessionClaims {
  credentials: ClaimCredentials | null;
  verify: (packet: Packet) => ClaimRejection | null;
}

export interface SessionBinding {
  readonly sessionId: string;
  /** Encodes (authenticated when the session has a key) and sends to the group. */
  send(packet: Packet): void;
  /**
   * The fast path for DATA and PARITY of one sender: the header is laid out once (`createSymbolEncoder`),
   * the bytes are those `send` would make.
   */
  symbolSender(senderId: string): (type: 'data' | 'parity', block: number, group: number, index: number, payload: Uint8Array) => void;
  /** Datagrams queued in the kernel and libuv not yet sent; callers pause above a bound. */
  sendQueueCount(): number;
  leave(): void;
}

/** Counted in `droppedInvalid` when a session handler throws: a bug, visible in the metrics rather than fatal. */
const HANDLER_THREW = 'HANDLER.THREW';

/** Datagrams queued before a sender should pause: ~360 KB, under a default 208 KiB-4 MiB send buffer's worth of backlog. */
export const SEND_QUEUE_HIGH_WATER = 256;

/**
 * The sessions of one multicast socket, whatever carries its datagrams: encodes what a session
 * sends (signing claims), decodes what arrives once, checks claims, and hands each packet to the
 * handlers of the session it names. `UdpMulticastSocket` carries the datagrams over UDP; tests carry
 * them over an in-memory LAN, so that the same decoding, authentication and dispatch run there.
 */
export abstract class MulticastSessions implements MulticastPort {
  readonly stats: MulticastSocketStats = {
    packetsSent: 0,
    bytesSent: 0,
    sendErrors: 0,
    packetsReceived: 0,
    bytesReceived: 0,
    droppedInvalid: {},
    otherSession: 0,
    ownEcho: 0,
    lossInjected: 0,
  };
  /** Per session: its key's tagger, every handler (election, sender or receiver) that joined it, and the local sender IDs they named. */
  private readonly sessions = new Map<
    string,
    { key: Buffer | null; tagger: PacketTagger | undefined; claims: SessionClaims | undefined; handlers: Set<SessionHandler>; localSenders: Set<string> }
  >();
  protected closed = false;
  /** Why the last ANNOUNCE or CLAIM was refused (PACKET.BAD_CLAIM), for the logs; null until one was. */
  lastClaimRejection: string | null = null;

  constructor(private readonly receiveOptions: Pick<UdpMulticastOptions, 'injectedReceiveLoss' | 'random'> = {}) {}

  /** Puts an encoded datagram on the wire (to the group). */
  protected abstract transmit(bytes: Uint8Array): void;
  /** Datagrams queued and not yet sent. */
  protected abstract queuedDatagrams(): number;

  /**
   * Receives the session's packets; `lanKey` (from the task, over NATS) makes it authenticated.
   * Several handlers may join one session (the election and the transfer of one task), all with the
   * same key: every packet goes to each of them. `claims`, given by the session's first handler,
   * holds for all of them (later handlers need not repeat it).
   */
  join(sessionId: string, lanKey: Uint8Array | null, handler: SessionHandler, claims?: SessionClaims): SessionBinding {
    if (this.closed) throw new MulticastSocketError(MulticastErrorCode.Closed, 'the multicast socket is closed');
    const key = lanKey === null ? null : Buffer.from(lanKey);
    let session = this.sessions.get(sessionId);
    if (session === undefined) {
      session = { key, tagger: key === null ? undefined : createPacketTagger(key), claims, handlers: new Set(), localSenders: new Set() };
      this.sessions.set(sessionId, session);
    } else if (session.key === null ? key !== null : key === null || !session.key.equals(key)) {
      throw new MulticastSocketError(MulticastErrorCode.SessionKeyMismatch, `session ${sessionId} is joined on this socket under another key`);
    } else {
      session.claims ??= claims;
    }
    const current = session;
    session.handlers.add(handler);
    if (handler.localSenderId !== undefined) session.localSenders.add(handler.localSenderId);
    const { tagger } = session;
    return {
      sessionId,
      send: (packet) => this.sendEncoded(encodeWithClaims(packet, tagger, current.claims)),
      symbolSender: (senderId) => {
        const encode: SymbolEncoder = createSymbolEncoder({ sessionId, senderId }, tagger);
        return (type, block, group, index, payload) => this.sendEncoded(encode(type, block, group, index, payload));
      },
      sendQueueCount: () => (this.closed ? 0 : this.queuedDatagrams()),
      leave: () => {
        const current = this.sessions.get(sessionId);
        if (current === undefined) return;
        current.handlers.delete(handler);
        if (current.handlers.size === 0) this.sessions.delete(sessionId);
        else if (handler.localSenderId !== undefined && ![...current.handlers].some((h) => h.localSenderId === handler.localSenderId)) current.localSenders.delete(handler.localSenderId);
      },
    };
  }

  /** Closes every session: nothing is sent or delivered any more. */
  protected leaveAll(): void {
    this.closed = true;
    this.sessions.clear();
  }

  /** Sends bytes as they are (tests use it to forge packets). */
  sendRaw(bytes: Uint8Array): void {
    this.sendEncoded(bytes);
  }

  protected sendEncoded(bytes: Uint8Array): void {
    if (this.closed) return;
    this.stats.packetsSent++;
    this.stats.bytesSent += bytes.length;
    this.transmit(bytes);
  }

  /** A datagram that arrived: decoded once, checked, and handed to the handlers of its session. */
  protected receive(message: Uint8Array, from: PacketFrom): void {
    this.stats.packetsReceived++;
    this.stats.bytesReceived += message.length;
    try {
      const sessionId = peekSessionId(message);
      const session = sessionId === null ? undefined : this.sessions.get(sessionId);
      if (session === undefined) {
        // Not ours to judge: decoded without a key only to tell foreign garbage from another task's session.
        if (sessionId === null) this.countInvalid(decodePacket(message));
        else this.stats.otherSession++;
        return;
      }
      if (session.localSenders.size > 0) {
        const senderId = peekSenderId(message);
        if (senderId !== null && session.localSenders.has(senderId)) {
          this.stats.ownEcho++;
          return;
        }
      }
      const decoded = decodePacket(message, session.tagger);
      if (!decoded.ok) {
        this.countInvalid(decoded);
        for (const handler of [...session.handlers]) this.deliver(() => handler.onInvalid?.(decoded.error.code));
        return;
      }
      const loss = this.receiveOptions.injectedReceiveLoss ?? 0;
      if (loss > 0 && (this.receiveOptions.random ?? Math.random)() < loss) {
        this.stats.lossInjected++;
        return;
      }
      const packet = decoded.value;
      if (session.claims !== undefined && (packet.type === 'announce' || packet.type === 'claim')) {
        const rejection = session.claims.verify(packet);
        if (rejection !== null) {
          this.stats.droppedInvalid[rejection.code] = (this.stats.droppedInvalid[rejection.code] ?? 0) + 1;
          this.lastClaimRejection = rejection.message;
          for (const handler of [...session.handlers]) this.deliver(() => handler.onInvalid?.(rejection.code));
          return;
        }
      }
      if (session.handlers.size === 1) {
        for (const handler of session.handlers) this.deliverPacket(handler, packet, from);
        return;
      }
      // A copy of the set: a handler may leave (its fetch ended) while the packet is delivered.
      for (const handler of [...session.handlers]) this.deliverPacket(handler, packet, from);
    } catch {
      this.stats.droppedInvalid[HANDLER_THREW] = (this.stats.droppedInvalid[HANDLER_THREW] ?? 0) + 1;
    }
  }

  /** As `deliver`, without a closure per packet and handler. */
  private deliverPacket(handler: SessionHandler, packet: Packet, from: PacketFrom): void {
    try {
      handler.onPacket(packet, from);
    } catch {
      this.stats.droppedInvalid[HANDLER_THREW] = (this.stats.droppedInvalid[HANDLER_THREW] ?? 0) + 1;
    }
  }

  /** A handler's bug must neither stop the socket loop nor keep the packet from the other handlers; it shows as a count. */
  private deliver(call: () => void): void {
    try {
      call();
    } catch {
      this.stats.droppedInvalid[HANDLER_THREW] = (this.stats.droppedInvalid[HANDLER_THREW] ?? 0) + 1;
    }
  }

  private countInvalid(result: ReturnType<typeof decodePacket>): void {
    if (result.ok) return;
    this.stats.droppedInvalid[result.error.code] = (this.stats.droppedInvalid[result.error.code] ?? 0) + 1;
  }
}

/**
 * The subnet's multicast socket: UDP/IPv4 bound to the session port, joined to the group on one
 * interface, sending with TTL 1.
 */
export class UdpMulticastSocket extends MulticastSessions {
  private constructor(
    private readonly socket: dgram.Socket,
    readonly group: string,
    readonly port: number,
    private readonly options: UdpMulticastOptions,
  ) {
    super(options);
    socket.on('message', (message, from) => this.receive(message, from));
    // A socket error after bind (ICMP, interface gone) must not crash the agent; sends count it.
    socket.on('error', () => {
      this.stats.sendErrors++;
    });
  }

  /** The IPv4 address of the interface the session runs on. */
  get interfaceAddress(): string {
    return this.options.interfaceAddress;
  }

  static async open(options: UdpMulticastOptions): Promise<UdpMulticastSocket> {
    const group = options.group ?? DEFAULT_MULTICAST_GROUP_V4;
    const port = options.port ?? DEFAULT_MULTICAST_PORT;
    // reuseAddr: every agent task, and every agent on one host in a test, shares the session port.
    const socket = dgram.createSocket({ type: 'udp4', reuseAddr: true });
    try {
      await new Promise<void>((resolve, reject) => {
        socket.once('error', reject);
        socket.bind(port, () => {
          socket.off('error', reject);
          resolve();
        });
      });
      socket.addMembership(group, options.interfaceAddress);
      socket.setMulticastInterface(options.interfaceAddress);
      // TTL 1: routers never forward the session (README, constants.ts).
      socket.setMulticastTTL(MULTICAST_TTL);
      // Other agents on this host (tests, or namespaces sharing nothing) must hear us; our own copies are ignored by sender ID.
      socket.setMulticastLoopback(true);
      try {
        socket.setRecvBufferSize(options.receiveBufferBytes ?? 4 * 1024 * 1024);
      } catch {
        // Refused above the system cap: the default buffer works, with more loss at full speed.
      }
    } catch (error) {
      socket.close();
      throw new MulticastSocketError(MulticastErrorCode.SocketFailed, `cannot open multicast ${group}:${port} on ${options.interfaceAddress}: ${(error as Error).message}`);
    }
    return new UdpMulticastSocket(socket, group, port, options);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.leaveAll();
    await new Promise<void>((resolve) => this.socket.close(() => resolve()));
  }

  protected transmit(bytes: Uint8Array): void {
    // One callback for every send (dgram drops a send's error silently without one), not a closure per datagram.
    this.socket.send(bytes, this.port, this.group, this.onSent);
  }

  protected queuedDatagrams(): number {
    return this.socket.getSendQueueCount();
  }

  private readonly onSent = (error: Error | null) => {
    if (error) this.stats.sendErrors++;
  };

}

/**
 * A session's packet as it goes out: an ANNOUNCE or CLAIM signed with this device's ticket where the
 * session has claims. Without credentials the claim goes out unsigned, and the session's other
 * devices drop it: a device the control plane gave no ticket cannot lead a session.
 */
function encodeWithClaims(packet: Packet, tagger: PacketTagger | undefined, claims: SessionClaims | undefined): Uint8Array {
  const credentials = claims?.credentials;
  if (credentials == null || (packet.type !== 'announce' && packet.type !== 'claim')) return encodePacket(packet, tagger);
  return encodePacket({ ...packet, proof: credentials.proof }, tagger, credentials.signer);
}
