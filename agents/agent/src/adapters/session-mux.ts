import type { Packet } from '@fleetcast/lan-protocol';
import { MulticastErrorCode, MulticastPort, MulticastSocketError, PacketFrom, SessionBinding, SessionClaims, SessionHandler } from './udp-multicast';

export interface SessionMuxOptions {
  sessionId: string;
  lanKey: Uint8Array | null;
  /** The device's own sender ID: its echoes are dropped before decoding, for the whole session. */
  localSenderId: string;
  claims?: SessionClaims;
  /** A datagram of the session that failed to decode or to prove its claim, counted once. */
  onInvalid: (code: string) => void;
}

/**
 * One task's session on the multicast port, joined once: each packet of the session is decoded and
 * checked once and handed to the parts of the task that read its type (the election reads DISCOVER,
 * CLAIM, ANNOUNCE and the symbols; the receiver ANNOUNCE, symbols and NACK; the sender NACK, JOIN
 * and DONE; the LAN download JOIN and PEER_HAVE), and an invalid one is counted once, not once per
 * part. The parts join the mux as they would the socket (it is a MulticastPort), so they run alike
 * on their own and under a LAN download.
 */
export class SessionMux implements MulticastPort {
  private readonly handlers = new Set<SessionHandler>();
  /**
   * The handlers as an array, made again when one joins or leaves rather than copied for every
   * packet: a handler that leaves while a packet is delivered replaces it, so the loop in progress
   * still runs over the array it started with.
   */
  private current: readonly SessionHandler[] = [];
  private readonly binding: SessionBinding;
  /** Handlers that threw: a bug, counted rather than fatal, and the packet still reaches the others. */
  handlerErrors = 0;

  constructor(
    port: MulticastPort,
    private readonly options: SessionMuxOptions,
  ) {
    this.binding = port.join(
      options.sessionId,
      options.lanKey,
      { onPacket: (packet, from) => this.deliver(packet, from), onInvalid: options.onInvalid, localSenderId: options.localSenderId },
      options.claims,
    );
  }

  join(sessionId: string, _lanKey: Uint8Array | null, handler: SessionHandler): SessionBinding {
    if (sessionId !== this.options.sessionId) throw new MulticastSocketError(MulticastErrorCode.SessionKeyMismatch, `session ${sessionId} is not this mux's (${this.options.sessionId})`);
    this.handlers.add(handler);
    this.current = [...this.handlers];
    const { binding } = this;
    return {
      sessionId,
      send: (packet) => binding.send(packet),
      symbolSender: (senderId) => binding.symbolSender(senderId),
      sendQueueCount: () => binding.sendQueueCount(),
      leave: () => {
        this.handlers.delete(handler);
        this.current = [...this.handlers];
      },
    };
  }

  /** Sends under the session (the LAN download's own PEER_HAVE). */
  send(packet: Packet): void {
    this.binding.send(packet);
  }

  leave(): void {
    this.handlers.clear();
    this.current = [];
    this.binding.leave();
  }

  private deliver(packet: Packet, from: PacketFrom): void {
    for (const handler of this.current) {
      if (handler.accepts !== undefined && !handler.accepts.includes(packet.type)) continue;
      try {
        handler.onPacket(packet, from);
      } catch {
        this.handlerErrors++;
      }
    }
  }
}
