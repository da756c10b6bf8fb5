import { z } from 'zod';
import { bytesBySourceSchema, isoTimeSchema } from '../common';
import { defineRpc } from './define';

/**
 * Bytes devices received, by source and subnet, over a time range: what the tasks service kept of
 * every status report, summed per hour (a report's bytes count in the hour it arrived).
 */
export const subnetBytesSchema = z.object({
  /** The subnet the device had in the task; null: none known. */
  subnet: z.string().nullable(),
  bytes: bytesBySourceSchema,
});
export type SubnetBytes = z.infer<typeof subnetBytesSchema>;

export const ReportsRpc = {
  /** Bytes by source per subnet in [from, to), hour by hour (from rounded down to its hour). */
  bytesBySubnet: defineRpc(
    'tasks.qry.report.bytes-by-subnet.v1',
    z
      .object({ from: isoTimeSchema, to: isoTimeSchema })
      .refine((q) => Date.parse(q.from) < Date.parse(q.to), { message: 'from must be before to', path: ['to'] }),
    z.object({ items: z.array(subnetBytesSchema) }),
  ),
} as const;
