import { connect } from 'nats';
import type { NatsServer } from '@fleetcast/testing';
import { DeviceStatusReportedV2, Streams, SubjectBase, versioned, type DeviceStatusV2, type LanActivity } from '@fleetcast/contracts';

/** Enough for a stream that holds every report of a lab file's few tasks. */
const MAX_REPORTS = 100_000;
/** An ordered consumer's fetch ends after this long without a message: the stream is read to its end before. */
const FETCH_EXPIRES_MS = 3_000;

/**
 * Each device's LAN activity for a task as its agent last reported it (the highest `seq` of its
 * version-2 status reports), read back from the status stream on the lab's NATS: the per-device
 * figures that the task summary only gives summed per subnet.
 */
export async function lanActivityReported(nats: Pick<NatsServer, 'adminConnectOptions'>, taskId: string): Promise<Map<string, LanActivity>> {
  const nc = await connect({ ...nats.adminConnectOptions(), name: 'lab-test-status-reader' });
  try {
    const consumer = await nc.jetstream().consumers.get(Streams.deviceStatus.name, {
      filterSubjects: `${versioned(SubjectBase.deviceStatusReported, DeviceStatusReportedV2.version)}.>`,
    });
    const latest = new Map<string, DeviceStatusV2>();
    const messages = await consumer.fetch({ max_messages: MAX_REPORTS, expires: FETCH_EXPIRES_MS });
    for await (const message of messages) {
      const report = DeviceStatusReportedV2.schema.parse(message.json());
      if (report.taskId === taskId && report.lan !== null && report.seq > (latest.get(report.deviceId)?.seq ?? -1)) latest.set(report.deviceId, report);
      if (message.info.pending === 0) break;
    }
    return new Map([...latest].map(([deviceId, report]) => [deviceId, report.lan!]));
  } finally {
    await nc.close();
  }
}
