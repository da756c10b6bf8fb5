import type { CreateTask } from '@fleetcast/contracts';
import { planFiguresOf, type PlanFigures } from '../lib/plan-figures';
import { ApiError, type ApiClient } from './api-client';

/**
 * The what-if estimate shown on task creation: `POST /v1/plans` with the task's package, targets
 * and profile. A gateway without the planner answers 404 (or 405): the form then shows no estimate,
 * and nothing else changes. The only place that calls the planner (`lib/plan-figures.ts` reads
 * the figures the page needs from its answer and ignores the rest).
 */
export type PlanResult = { kind: 'estimate'; figures: PlanFigures } | { kind: 'unavailable' } | { kind: 'error'; message: string };

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
