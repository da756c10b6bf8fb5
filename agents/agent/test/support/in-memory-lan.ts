import { MulticastSessions } from '../../src/adapters/udp-multicast';

/**
 * A subnet in memory: every datagram one port sends reaches every port (its own too, as multicast
 * loopback does) on a later turn of the event loop, unless `drop` says it is lost on the way to
 * that port. Each port is a MulticastSessions, so the bytes go through the same encoding,
 * authentication, claim checks and dispatch as on the UDP socket; only the wire is missing. Drivers
 * (the LAN download, the election, sender and receiver) run on it without sockets, and a test
 * chooses exactly which datagram is lost.
 */
export class InMemoryLan {
  private readonly ports = new Set<InMemoryMulticastPort>();
  /** Loses a datagram on its way to the port at `to` when it returns true. */
  drop: (bytes: Uint8Array, to: string, from: string) => boolean = () => false;
  /** Sees every datagram sent on the LAN, once, as it is sent. */
  tap: (bytes: Uint8Array, from: string) => void = () => undefined;
  datagrams = 0;

  /** A device's port on the LAN at `address`. */
  attach(address: string): InMemoryMulticastPort {
    const port = new InMemoryMulticastPort(this, address);
    this.ports.add(port);
    return port;
  }

  /** @internal the ports' way onto the wire. */
  carry(bytes: Uint8Array, from: InMemoryMulticastPort): void {
    this.datagrams++;
    this.tap(bytes, from.address);
    // A copy, as a datagram is: the sender may reuse its buffer.
    const copy = new Uint8Array(bytes);
    for (const port of this.ports) {
      if (this.drop(copy, port.address, from.address)) continue;
      setImmediate(() => port.arrive(copy, from.address));
    }
  }

  detach(port: InMemoryMulticastPort): void {
    this.ports.delete(port);
  }
}

export class InMemoryMulticastPort extends MulticastSessions {
  constructor(
    private readonly lan: InMemoryLan,
    readonly address: string,
  ) {
    super();
  }

  /** @internal a datagram off the wire. */
  arrive(bytes: Uint8Array, from: string): void {
    if (!this.closed) this.receive(bytes, { address: from, port: 0 });
  }

  close(): void {
    this.leaveAll();
    this.lan.detach(this);
  }

  protected transmit(bytes: Uint8Array): void {
    this.lan.carry(bytes, this);
  }

  protected queuedDatagrams(): number {
    return 0;
  }
}
