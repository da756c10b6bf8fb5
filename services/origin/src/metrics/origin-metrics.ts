import { Inject, Injectable } from '@nestjs/common';
import { METRICS } from '@fleetcast/service-kit';
import { Counter, counter, Registry } from '@fleetcast/telemetry';
import { OTHER_KEY, ServedBytesSnapshot, ServedBytesTally } from './served-bytes-tally';

/** Series of fleetcast_origin_bytes_served_total: a thousand branch subnets, then "other". */
export const MAX_SUBNET_LABELS = 1_000;

/** How an upload ended: the `result` label of `fleetcast_origin_uploads_total`. */
export type UploadResult = 'created' | 'existed' | 'hash_mismatch' | 'size_mismatch' | 'aborted' | 'failed';

/**
 * Every figure the origin counts, on the service's registry (served at /metrics with the process
 * figures the benchmarks read). The registry is one per app, so two origins in one process (tests)
 * each count their own traffic.
 */
@Injectable()
export class OriginMetrics {
  private readonly tally = new ServedBytesTally();
  private readonly bytesServed: Counter<string>;
  /** Subnet labels given out so far: a metric's series stay bounded whatever clients declare. */
  private readonly subnetLabels = new Set<string>();
  private readonly uploads: Counter<string>;
  private readonly uploadBytes: Counter<string>;

  constructor(@Inject(METRICS) registry: Registry) {
    this.bytesServed = counter(
      registry,
      'fleetcast_origin_bytes_served_total',
      `Content bytes written to client sockets, by the subnet the requester declared ("unknown" if none; "other" past ${MAX_SUBNET_LABELS} subnets).`,
      ['subnet'],
    );
    this.uploads = counter(registry, 'fleetcast_origin_uploads_total', 'Uploads by how they ended.', ['result']);
    this.uploadBytes = counter(registry, 'fleetcast_origin_upload_bytes_total', 'Bytes received in upload bodies, stored or not.');
  }

  /** Counts bytes that reached a client's socket. */
  recordServed(subnet: string, device: string, bytes: number): void {
    if (!this.subnetLabels.has(subnet) && this.subnetLabels.size < MAX_SUBNET_LABELS) this.subnetLabels.add(subnet);
    this.bytesServed.inc({ subnet: this.subnetLabels.has(subnet) ? subnet : OTHER_KEY }, bytes);
    // Per device there is no metric: 10,000 devices would be 10,000 series. The tally (bounded) has them.
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
}
