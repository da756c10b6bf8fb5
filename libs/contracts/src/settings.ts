import { z } from 'zod';
import { idSchema } from './common';

/**
 * The agent's "distribution and patch" settings. One profile is the default for every device;
 * a profile attached to a task overrides it for that task only.
 */
export const agentSettingsSchema = z.object({
  /** Use subnet multicast for this task (one WAN download per subnet). */
  useMulticast: z.boolean(),
  /** Seconds a subnet representative waits for others to join before multicasting (seed default: 60 s). */
  sessionStartDelaySeconds: z.number().int().min(0).max(3600),
  /** May the device fetch content from peers on its subnet. */
  peerDownloadAllowed: z.boolean(),
  /** LAN send rate limit in kbit/s; null = no limit. */
  lanRateLimitKbps: z.number().int().positive().nullable(),
  /** Size limit of the local distribution cache in bytes; null = no limit. */
  cacheSizeLimitBytes: z.number().int().positive().nullable(),
});
export type AgentSettings = z.infer<typeof agentSettingsSchema>;

/** Defaults of the built-in default profile; session start delay 60 s as in the seed document. */
export const DEFAULT_AGENT_SETTINGS: AgentSettings = {
  useMulticast: true,
  sessionStartDelaySeconds: 60,
  peerDownloadAllowed: true,
  lanRateLimitKbps: null,
  cacheSizeLimitBytes: null,
};

export const profileSchema = agentSettingsSchema.extend({
  id: idSchema,
  name: z.string().min(1).max(200),
  isDefault: z.boolean(),
  updatedAt: z.string(),
});
export type Profile = z.infer<typeof profileSchema>;

/** Settings resolved for one device and task, with the profile they came from. */
export const resolvedSettingsSchema = agentSettingsSchema.extend({ profileId: idSchema });
export type ResolvedSettings = z.infer<typeof resolvedSettingsSchema>;
