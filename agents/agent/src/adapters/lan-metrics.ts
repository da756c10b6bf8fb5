import { Counter, Registry } from 'prom-client';
import type { MulticastSocketStats } from './udp-multicast';

/**
 * The multicast socket's counters as Prometheus metrics, read at scrape time so that they cannot
 * drift from the socket's own figures (all zero until the first multicast task opens the socket).
 * Forged packets show as `fleetcast_agent_lan_packets_invalid_total{code="PACKET.BAD_AUTH"}`.
 */
export function registerLanMetrics(registry: Registry, stats: () => MulticastSocketStats | undefined): void {
  const total = (name: string, help: string, read: (s: MulticastSocketStats) => number) =>
    new Counter({
      name,
      help,
      registers: [registry],
      collect() {
        const s = stats();
        this.reset();
        if (s !== undefined) this.inc(read(s));
      },
    });
  total('fleetcast_agent_lan_packets_sent_total', 'LAN packets this device sent (multicast data, parity, control)', (s) => s.packetsSent);
  total('fleetcast_agent_lan_bytes_sent_total', 'UDP payload bytes of the LAN packets this device sent', (s) => s.bytesSent);
  total('fleetcast_agent_lan_send_errors_total', 'LAN packets the kernel refused to send', (s) => s.sendErrors);
  total('fleetcast_agent_lan_packets_received_total', 'LAN datagrams received on the multicast socket', (s) => s.packetsReceived);
  total('fleetcast_agent_lan_bytes_received_total', 'UDP payload bytes received on the multicast socket', (s) => s.bytesReceived);
  total('fleetcast_agent_lan_packets_other_session_total', 'Valid packets of sessions this device does not take part in', (s) => s.otherSession);
  new Counter({
    name: 'fleetcast_agent_lan_packets_invalid_total',
    help: 'LAN datagrams dropped as invalid, by code (PACKET.BAD_AUTH: forged or keyed for another session; PACKET.BAD_CLAIM: a claim to lead the control plane did not vouch for)',
    labelNames: ['code'],
    registers: [registry],
    collect() {
      const s = stats();
      this.reset();
      for (const [code, count] of Object.entries(s?.droppedInvalid ?? {})) this.inc({ code }, count);
    },
  });
}
