import { z } from 'zod';
import { idSchema, platformSchema } from '../common';
import { defineRpc, paginationSchema } from './define';
import { signingKeySchema } from './tasks.rpc';

/**
 * Enrollment: an administrator makes tokens; a device presents one with the public half of a NATS
 * user key it made itself, and receives a user JWT that lets it act on its own subjects only, plus
 * the control plane's signing keys to pin. The device's secret seed never leaves it.
 */

/** A NATS user public key: 'U' and 55 base32 characters. */
export const natsUserPublicKeySchema = z.string().regex(/^U[A-Z2-7]{55}$/, 'must be a NATS user public key (U followed by 55 base32 characters)');

export const createEnrollmentTokenSchema = z.object({
  /** What the administrator calls it ("Amsterdam office laptops"). */
  name: z.string().min(1).max(200),
  /** Seconds until the token stops working. */
  expiresInSeconds: z.number().int().min(60).max(365 * 24 * 3600).default(7 * 24 * 3600),
  /** How many devices may enroll with it. */
  maxUses: z.number().int().min(1).max(100_000).default(1),
  /** A label devices enrolled with it carry (a target group for tasks). */
  group: z.string().min(1).max(100).regex(/^[A-Za-z0-9_.-]+$/, 'must be letters, digits, "_", "." or "-"').optional(),
});
export type CreateEnrollmentToken = z.input<typeof createEnrollmentTokenSchema>;

export const enrollmentTokenSchema = z.object({
  id: idSchema,
  name: z.string(),
  group: z.string().nullable(),
  maxUses: z.number().int(),
  uses: z.number().int(),
  expiresAt: z.string(),
  revokedAt: z.string().nullable(),
  createdAt: z.string(),
});
export type EnrollmentToken = z.infer<typeof enrollmentTokenSchema>;

/** The token's secret is shown once, when it is made; only its hash is stored. */
export const createdEnrollmentTokenSchema = enrollmentTokenSchema.extend({ token: z.string() });

export const enrollRequestSchema = z.object({
  token: z.string().min(1).max(200),
  deviceId: idSchema,
  publicKey: natsUserPublicKeySchema,
  hostname: z.string().min(1).max(255),
  platform: platformSchema,
  agentVersion: z.string().min(1).max(50),
});
export type EnrollRequest = z.infer<typeof enrollRequestSchema>;

export const enrollResponseSchema = z.object({
  deviceId: idSchema,
  /** The device's NATS user JWT, for the public key it sent. */
  userJwt: z.string(),
  /** NATS URLs the fleet's devices connect to (empty: the agent's own configuration decides). */
  natsUrls: z.array(z.string()),
  /** The control plane's signing keys to pin, the active one first. */
  controlPlaneKeys: z.array(signingKeySchema).min(1),
  group: z.string().nullable(),
});
export type EnrollResponse = z.infer<typeof enrollResponseSchema>;

export const enrolledDeviceStateSchema = z.enum(['active', 'retired']);

export const enrolledDeviceSchema = z.object({
  deviceId: idSchema,
  hostname: z.string(),
  platform: platformSchema,
  agentVersion: z.string(),
  group: z.string().nullable(),
  state: enrolledDeviceStateSchema,
  /** The NATS user public key the device's credentials were issued for. */
  publicKey: z.string(),
  enrolledAt: z.string(),
  retiredAt: z.string().nullable(),
});
export type EnrolledDevice = z.infer<typeof enrolledDeviceSchema>;

const list = <T extends z.ZodTypeAny>(item: T) => z.object({ items: z.array(item), total: z.number().int() });

export const EnrollmentRpc = {
  createToken: defineRpc('licensing.cmd.enrollment-token.create.v1', createEnrollmentTokenSchema, createdEnrollmentTokenSchema),
  listTokens: defineRpc('licensing.qry.enrollment-token.list.v1', paginationSchema, list(enrollmentTokenSchema)),
  revokeToken: defineRpc('licensing.cmd.enrollment-token.revoke.v1', z.object({ id: idSchema }), enrollmentTokenSchema),
  enroll: defineRpc('licensing.cmd.device.enroll.v1', enrollRequestSchema, enrollResponseSchema),
  /** Revokes the device's credentials (its connection is closed within seconds) and releases its seat. */
  retire: defineRpc('licensing.cmd.device.retire.v1', z.object({ deviceId: idSchema }), enrolledDeviceSchema),
  getDevice: defineRpc('licensing.qry.enrolled-device.get.v1', z.object({ deviceId: idSchema }), enrolledDeviceSchema),
  listDevices: defineRpc(
    'licensing.qry.enrolled-device.list.v1',
    paginationSchema.extend({ state: enrolledDeviceStateSchema.optional() }),
    list(enrolledDeviceSchema),
  ),
} as const;
