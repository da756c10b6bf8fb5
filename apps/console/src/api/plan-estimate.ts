import type { CreateTask } from '@fleetcast/contracts';
import { ApiError, type ApiClient } from './api-client';

/**
 * The what-if estimate shown on task creation: `POST /v1/plans` with the task's package, targets
 * and profile. A gateway without the planner answers 404 (or 405): the form then shows no estimate,
 * and nothing else changes. The only place that knows the planner's shape; it reads the figures
 * it needs and ignores the rest.
 */
export interface PlanFigures {
  withSharing: { wanBytes: number; seconds: number };
  withoutSharing: { wanBytes: number; seconds: number };
  savedWanBytes: number;
  devices: number;
  subnets: Array<{ subnet: string | null; devices: number; sharing: string; wanBytesWithSharing: number; noSharing: string | null }>;
}

export type PlanResult = { kind: 'estimate'; figures: PlanFigures } | { kind: 'unavailable' } | { kind: 'error'; message: string };

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

export async function estimatePlan(api: ApiClient, task: CreateTask): Promise<PlanResult> {
  try {
    const body = await api.post<unknown>('/v1/plans', { packageId: task.packageId, targets: task.targets, ...(task.profileId ? { profileId: task.profileId } : {}) });
    const figures = planFiguresOf(body);
    return figures ? { kind: 'estimate', figures } : { kind: 'unavailable' };
  } catch (error) {
    // No such route (`Cannot POST /v1/plans`): this gateway has no planner. A 404 for an unknown package is an answer.
    if (error instanceof ApiError && ((error.status === 404 && error.message.startsWith('Cannot POST')) || error.status === 405)) return { kind: 'unavailable' };
    return { kind: 'error', message: error instanceof ApiError ? error.describe() : String(error) };
  }
}
