import { z } from 'zod';
import { idSchema, isoTimeSchema } from '../common';
import { SubjectBase, versioned } from '../subjects';

/**
 * Broadcast (core NATS) when a settings profile changes. Connected agents re-read their settings
 * at once; agents that miss it read them at their next inventory scan.
 */
export const settingsChangedV1Schema = z.object({ profileId: idSchema, changedAt: isoTimeSchema });
export type SettingsChangedV1 = z.infer<typeof settingsChangedV1Schema>;

export const SettingsChanged = {
  version: 1,
  schema: settingsChangedV1Schema,
  subject: () => versioned(SubjectBase.settingsChanged, 1),
} as const;
