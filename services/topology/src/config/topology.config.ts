import { z } from 'zod';
import { baseEnvSchema, databaseEnvSchema, parseEnv, port } from '@fleetcast/service-kit';

/** Nest injection token of the validated configuration. */
export const TOPOLOGY_CONFIG = Symbol('TOPOLOGY_CONFIG');

/** The Postgres schema the topology service owns; no other service reads or writes it. */
export const TOPOLOGY_SCHEMA = 'topology';

export const topologyEnvSchema = baseEnvSchema.merge(databaseEnvSchema).extend({
  // 3004: after the inventory (3001), tasks (3002) and licensing (3003), so a one-machine stack needs no remapping; 0 lets the OS pick.
  HTTP_PORT: port(3004),
  // Scans placed per transaction: a burst after a network change arrives in hundreds; one
  // transaction each would spend its time on commits.
  PLACEMENT_BATCH_SIZE: z.coerce.number().int().min(1).max(5000).default(500),
  // Most inventory devices a draft is generated from: 20 pages of 1,000, past any fleet the
  // control plane is sized for (10,000 devices); a larger inventory is generated from its first part.
  DRAFT_MAX_DEVICES: z.coerce.number().int().min(1).max(1_000_000).default(20_000),
});

export type TopologyConfig = z.infer<typeof topologyEnvSchema>;

/** Validates the environment once; the only reader of `process.env` in the topology service. */
export function loadTopologyConfig(env: NodeJS.ProcessEnv = process.env): TopologyConfig {
  return parseEnv(topologyEnvSchema, env);
}

/** The database settings alone: what the migrate command needs. */
export function loadTopologyDatabaseConfig(env: NodeJS.ProcessEnv = process.env): Pick<TopologyConfig, 'DATABASE_URL' | 'DB_POOL_SIZE'> {
  return parseEnv(databaseEnvSchema, env);
}
