/**
 * The figures of a what-if planner answer (`POST /v1/plans`) that the task creation page shows,
 * read defensively: the console must keep working whatever else the answer holds.
 */
export interface PlanFigures {
  withSharing: { wanBytes: number; seconds: number };
  withoutSharing: { wanBytes: number; seconds: number };
  savedWanBytes: number;
  devices: number;
  subnets: Array<{ subnet: string | null; devices: number; sharing: string; wanBytesWithSharing: number; noSharing: string | null }>;
}

const isEstimate = (v: unknown): v is { wanBytes: number; seconds: number } =>
  typeof v === 'object' && v !== null && typeof (v as { wanBytes?: unknown }).wanBytes === 'number' && typeof (v as { seconds?: unknown }).seconds === 'number';

/** The figures of a planner answer, or null when it is not one this console can read. */
export function planFiguresOf(body: unknown): PlanFigures | null {
  if (typeof body !== 'object' || body === null) return null;
  const b = body as Record<string, unknown>;
  if (!isEstimate(b.withSharing) || !isEstimate(b.withoutSharing)) return null;
  const subnets = Array.isArray(b.subnets) ? (b.subnets as Array<Record<string, unknown>>) : [];
  return {
    withSharing: b.withSharing,
    withoutSharing: b.withoutSharing,
    savedWanBytes: typeof b.savedWanBytes === 'number' ? b.savedWanBytes : b.withoutSharing.wanBytes - b.withSharing.wanBytes,
    devices: typeof b.devices === 'number' ? b.devices : 0,
    subnets: subnets.map((s) => ({
      subnet: typeof s.subnet === 'string' ? s.subnet : null,
      devices: typeof s.devices === 'number' ? s.devices : 0,
      sharing: typeof s.sharing === 'string' ? s.sharing : '',
      wanBytesWithSharing: isEstimate(s.withSharing) ? s.withSharing.wanBytes : 0,
      noSharing: typeof s.noSharing === 'object' && s.noSharing !== null ? String((s.noSharing as { message?: unknown }).message ?? '') : null,
    })),
  };
}

