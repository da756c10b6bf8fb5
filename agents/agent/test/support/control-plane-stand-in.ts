import { AckPolicy, DeliverPolicy, NatsConnection } from 'nats';
import {
  AssignmentDocumentV2,
  ContentKey,
  DEFAULT_AGENT_SETTINGS,
  DeviceStatusV1,
  RpcReply,
  Streams,
  TaskAssignedV2,
  TasksDeviceRpc,
  TasksRpc,
} from '@fleetcast/contracts';
import { Manifest, manifestHash, signAssignment, Signed, SigningKeyPair, toWire } from '@fleetcast/content';
import { encodeJson } from '@fleetcast/nats';

/**
 * The control plane's side of an agent's queries, answered over real NATS by the test: the signed
 * manifest (counting the requests), the default settings, and no download token (the test origins
 * serve anyone). What the agent tests that run a real daemon or agent process share.
 */
export async function answerAgentQueries(nc: NatsConnection, signedManifest: () => Signed<Manifest>): Promise<{ manifestRequests: () => number }> {
  let requests = 0;
  const reply = (data: unknown): Uint8Array => encodeJson({ ok: true, data } satisfies RpcReply);
  for (const subject of [TasksDeviceRpc.getManifest.subject, TasksRpc.getManifest.subject]) {
    nc.subscribe(subject, {
      callback: (_e, m) => {
        requests++;
        m.respond(reply(toWire(signedManifest())));
      },
    });
  }
  nc.subscribe(TasksDeviceRpc.getDownloadToken.subject, { callback: (_e, m) => m.respond(reply({ token: null, expiresAt: null })) });
  for (const subject of [TasksDeviceRpc.getSettings.subject, TasksRpc.getDeviceSettings.subject]) {
    nc.subscribe(subject, { callback: (_e, m) => m.respond(reply({ ...DEFAULT_AGENT_SETTINGS, profileId: 'default' })) });
  }
  await nc.flush();
  return { manifestRequests: () => requests };
}

/**
 * Answers content-key requests as the tasks service would: the key for content in `keys` (what a
 * target gets), an error code for anything else (TASKS.NOT_A_TARGET by default). Counts the requests.
 */
export async function answerContentKeys(nc: NatsConnection, keys: Map<string, ContentKey | { code: string }>): Promise<{ requests: () => string[] }> {
  const asked: string[] = [];
  nc.subscribe(TasksDeviceRpc.getContentKey.subject, {
    callback: (_e, m) => {
      const { contentId } = JSON.parse(Buffer.from(m.data).toString()) as { contentId: string };
      asked.push(contentId);
      const answer = keys.get(contentId) ?? { code: 'TASKS.NOT_A_TARGET' };
      m.respond(
        encodeJson(
          'code' in answer
            ? ({ ok: false, error: { code: answer.code, message: `refused content ${contentId}` } } satisfies RpcReply)
            : ({ ok: true, data: answer } satisfies RpcReply),
        ),
      );
    },
  });
  await nc.flush();
  return { requests: () => asked };
}

/** An install document for `deviceId` and `manifest`, valid from a minute ago for `validMs`. */
export function installDocument(
  deviceId: string,
  taskId: string,
  manifest: Manifest,
  command: { installCommand: string; installArgs: string[] },
  validMs = 3_600_000,
): AssignmentDocumentV2 {
  return {
    taskId,
    deviceId,
    action: 'install',
    package: { contentId: manifest.contentId, size: manifest.size, manifestHash: manifestHash(manifest), ...command, successExitCodes: [0], timeoutSeconds: 60 },
    issuedAt: new Date(Date.now() - 60_000).toISOString(),
    notBefore: new Date(Date.now() - 60_000).toISOString(),
    expiresAt: new Date(Date.now() + validMs).toISOString(),
    retiredKeyIds: [],
  };
}

/** The assignment message of a document, signed with `key`, with the package's unsigned parts. */
export function signedAssignment(
  doc: AssignmentDocumentV2,
  key: SigningKeyPair,
  unsigned: { package: TaskAssignedV2['package']; settings?: Partial<TaskAssignedV2['settings']> },
): TaskAssignedV2 {
  const signed = signAssignment(doc, key);
  return {
    assignment: { document: doc, keyId: signed.keyId, signature: Buffer.from(signed.signature).toString('base64') },
    endorsements: [],
    package: unsigned.package,
    settings: { ...DEFAULT_AGENT_SETTINGS, useMulticast: false, profileId: 'default', ...unsigned.settings },
  };
}

/** Every status report of a task so far, in order, with the time the stream stored each. */
export async function statusReportsOf(nc: NatsConnection, taskId: string): Promise<Array<DeviceStatusV1 & { storedAtMs: number }>> {
  const jsm = await nc.jetstreamManager();
  const info = await jsm.consumers.add(Streams.deviceStatus.name, { ack_policy: AckPolicy.None, deliver_policy: DeliverPolicy.All, inactive_threshold: 10e9 });
  const consumer = await nc.jetstream().consumers.get(Streams.deviceStatus.name, info.name);
  const out: Array<DeviceStatusV1 & { storedAtMs: number }> = [];
  if (info.num_pending > 0) {
    for await (const m of await consumer.fetch({ max_messages: info.num_pending, expires: 5000 })) {
      out.push({ ...JSON.parse(Buffer.from(m.data).toString()), storedAtMs: m.info.timestampNanos / 1e6 });
    }
  }
  await jsm.consumers.delete(Streams.deviceStatus.name, info.name);
  return out.filter((r) => r.taskId === taskId);
}
