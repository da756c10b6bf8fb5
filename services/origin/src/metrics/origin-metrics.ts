import { Injectable } from '@nestjs/common';
import { Counter, Registry, collectDefaultMetrics } from 'prom-client';
import { ServedBytesSnapshot, ServedBytesTally } from './served-bytes-tally';

/** How an upload ended: the `result` label of `fleetcast_origin_uploads_total`. */
export type UploadResult = 'created' | 'existed' | 'hash_mismatch' | 'size_mismatch' | 'aborted' | 'failed';

/**
 * Every figure the origin exports. One registry per instance, never prom-client's global one, so
 * that two origins in one process (tests) each count their own traffic and register no name twice.
 */
@Injectable()
export class OriginMetrics {
  readonly registry = new Registry();
  private readonly tally = new ServedBytesTally();

  private readonly bytesServed = new Counter({
    name: 'fleetcast_origin_bytes_served_total',
    help: 'Content bytes written to client sockets, by the subnet the requester declared ("unknown" if none).',
    labelNames: ['subnet'] as const,
    registers: [this.registry],
  });

  private readonly deviceBytesServed = new Counter({
    name: 'fleetcast_origin_device_bytes_served_total',
    help: 'Content bytes written to client sockets, by the device the requester declared ("unknown" if none).',
    labelNames: ['device'] as const,
    registers: [this.registry],
  });

  private readonly uploads = new Counter({
    name: 'fleetcast_origin_uploads_total',
    help: 'Uploads by how they ended.',
    labelNames: ['result'] as const,
    registers: [this.registry],
  });

  private readonly uploadBytes = new Counter({
    name: 'fleetcast_origin_upload_bytes_total',
    help: 'Bytes received in upload bodies, stored or not.',
    registers: [this.registry],
  });

  constructor() {
    // Process figures (resident memory, event-loop lag): the benchmarks report the origin's memory.
    collectDefaultMetrics({ register: this.registry });
  }

  /** Counts bytes that reached a client's socket. */
  recordServed(subnet: string, device: string, bytes: number): void {
    this.bytesServed.inc({ subnet }, bytes);
    this.deviceBytesServed.inc({ device }, bytes);
    this.tally.add(subnet, device, bytes);
  }

  recordUploadBytes(bytes: number): void {
    this.uploadBytes.inc(bytes);
  }

  recordUpload(result: UploadResult): void {
    this.uploads.inc({ result });
  }

  servedSnapshot(): ServedBytesSnapshot {
    return this.tally.snapshot();
  }

  /** Resets the JSON stats for a lab run; the Prometheus counters keep growing, as counters must. */
  resetServed(): void {
    this.tally.reset();
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  render(): Promise<string> {
    return this.registry.metrics();
  }
}
