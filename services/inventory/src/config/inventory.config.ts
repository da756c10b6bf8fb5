import { z } from 'zod';
import { baseEnvSchema, databaseEnvSchema, parseEnv, port } from '@fleetcast/service-kit';
import { DEFAULT_SUPPORTED_AGENT_VERSIONS, supportedRangeProblem } from '../devices/agent-version';

/** Nest injection token of the validated configuration. */
export const INVENTORY_CONFIG = Symbol('INVENTORY_CONFIG');

/** The Postgres schema the inventory owns; no other service reads or writes it. */
export const INVENTORY_SCHEMA = 'inventory';

export const inventoryEnvSchema = baseEnvSchema.merge(databaseEnvSchema).extend({
  // 3001: next to the other services' ports, so a one-machine stack needs no remapping; 0 lets the OS pick.
  HTTP_PORT: port(3001),
  // A day: agents scan at least every few hours, so a device silent for a whole day is offline or gone.
  STALE_AFTER_SECONDS: z.coerce.number().int().min(1).default(86_400),
  // 500 scans amortise one transaction well; past 5,000 a batch holds tens of megabytes of scans
  // (each lists up to thousands of cached content IDs) for little more throughput.
  SCAN_BATCH_SIZE: z.coerce.number().int().min(1).max(5_000).default(500),
  // The agent versions the control plane distributes to (a semver range); a device whose agent is
  // outside it is marked unsupported-version and kept out of tasks. A bad range stops the start:
  // guessed, it would either cut the whole fleet off or let every agent through.
  SUPPORTED_AGENT_VERSIONS: z
    .string()
    .trim()
    .superRefine((range, ctx) => {
      const problem = supportedRangeProblem(range);
      if (problem !== null) ctx.addIssue({ code: z.ZodIssueCode.custom, message: problem });
    })
    .default(DEFAULT_SUPPORTED_AGENT_VERSIONS),
});

export type InventoryConfig = z.infer<typeof inventoryEnvSchema>;

/** Validates the environment once; the only reader of `process.env` in the inventory service. */
export function loadInventoryConfig(env: NodeJS.ProcessEnv = process.env): InventoryConfig {
  return parseEnv(inventoryEnvSchema, env);
}
