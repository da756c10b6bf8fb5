import { join } from 'node:path';
import { z } from 'zod';
import { EnrollRequest, enrollResponseSchema, EnrollResponse, FleetcastError, idSchema } from '@fleetcast/contracts';
import { createDeviceKey, keyPairFromSeed } from '@fleetcast/trust';
import { AgentErrorCode } from '../core/agent-errors';
import { readTextIfExists, writeFileAtomic } from './atomic-file';
import { savePinnedKeys } from './pinned-keys';

/**
 * The device's enrollment, kept in its state directory:
 *
 *   <stateDir>/nats-user.seed          the NATS user key the device made (0600; never leaves the device)
 *   <stateDir>/enrollment.json         its user JWT, the fleet's NATS URLs, when and where it enrolled
 *   <stateDir>/control-plane-keys.json the control plane's signing keys, pinned at enrollment
 *
 * The seed is made before the first request and kept across failed attempts, so a retried
 * enrollment presents the same key.
 */
const SEED_FILE = 'nats-user.seed';
const ENROLLMENT_FILE = 'enrollment.json';

const enrollmentFileSchema = z.object({
  deviceId: idSchema,
  userJwt: z.string().min(1),
  natsUrls: z.array(z.string()),
  group: z.string().nullable(),
  server: z.string(),
  enrolledAt: z.string(),
});
export type EnrollmentRecord = z.infer<typeof enrollmentFileSchema> & { seed: string };

export class EnrollmentError extends FleetcastError {
  constructor(code: string, message: string) {
    super(code, message);
    this.name = 'EnrollmentError';
  }
}

/** The enrollment kept in the state directory, or null when the device has not enrolled. */
export async function loadEnrollment(stateDir: string): Promise<EnrollmentRecord | null> {
  const text = await readTextIfExists(join(stateDir, ENROLLMENT_FILE));
  if (text === null) return null;
  const seed = await readTextIfExists(join(stateDir, SEED_FILE));
  let parsed: z.SafeParseReturnType<unknown, z.infer<typeof enrollmentFileSchema>>;
  try {
    parsed = enrollmentFileSchema.safeParse(JSON.parse(text));
  } catch (error) {
    throw new EnrollmentError(AgentErrorCode.StateUnreadable, `${ENROLLMENT_FILE} is not JSON (${(error as Error).message}); enroll again`);
  }
  if (!parsed.success || seed === null) throw new EnrollmentError(AgentErrorCode.StateUnreadable, `${ENROLLMENT_FILE} or ${SEED_FILE} is unreadable; enroll again`);
  return { ...parsed.data, seed: seed.trim() };
}

async function deviceSeed(stateDir: string): Promise<{ seed: string; publicKey: string }> {
  const path = join(stateDir, SEED_FILE);
  const existing = await readTextIfExists(path);
  if (existing !== null) {
    return { seed: existing.trim(), publicKey: keyPairFromSeed(existing).getPublicKey() };
  }
  const key = createDeviceKey();
  await writeFileAtomic(path, key.seed);
  return key;
}

export interface EnrollOptions {
  /** The control plane's public URL (the gateway). */
  server: string;
  token: string;
  stateDir: string;
  device: Omit<EnrollRequest, 'token' | 'publicKey'>;
  timeoutMs?: number;
}

/**
 * Enrolls the device: sends the public half of its key with the token, keeps the user JWT and pins
 * the control plane's keys. A refusal (bad or used-up token, no seat) leaves the state as it was and
 * says why.
 */
export async function enroll(options: EnrollOptions): Promise<EnrollmentRecord> {
  const { seed, publicKey } = await deviceSeed(options.stateDir);
  const url = `${options.server.replace(/\/+$/, '')}/v1/enroll`;
  let res: Response;
  try {
    res = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ ...options.device, token: options.token, publicKey }),
      signal: AbortSignal.timeout(options.timeoutMs ?? 30_000),
    });
  } catch (error) {
    throw new EnrollmentError(AgentErrorCode.EnrollmentFailed, `cannot reach ${url}: ${(error as Error).message}`);
  }
  const text = await res.text();
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    throw new EnrollmentError(AgentErrorCode.EnrollmentFailed, `${url} answered ${res.status} with something other than JSON`);
  }
  if (!res.ok) {
    const error = body as { code?: string; message?: string };
    throw new EnrollmentError(error.code ?? AgentErrorCode.EnrollmentFailed, `enrollment refused (${res.status}): ${error.message ?? text.slice(0, 300)}`);
  }
  const parsed = enrollResponseSchema.safeParse(body);
  if (!parsed.success) throw new EnrollmentError(AgentErrorCode.EnrollmentFailed, `${url} answered with an unexpected enrollment: ${parsed.error.message}`);
  const response: EnrollResponse = parsed.data;
  if (response.deviceId !== options.device.deviceId) {
    throw new EnrollmentError(AgentErrorCode.EnrollmentFailed, `the control plane enrolled ${response.deviceId}, not this device (${options.device.deviceId})`);
  }
  await savePinnedKeys(options.stateDir, response.controlPlaneKeys);
  const record = {
    deviceId: response.deviceId,
    userJwt: response.userJwt,
    natsUrls: response.natsUrls,
    group: response.group,
    server: options.server,
    enrolledAt: new Date().toISOString(),
  };
  await writeFileAtomic(join(options.stateDir, ENROLLMENT_FILE), JSON.stringify(record, null, 2) + '\n');
  return { ...record, seed };
}
