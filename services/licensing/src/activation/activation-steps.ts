import { ActivationStep, ActivationStepName } from '@fleetcast/contracts';

/**
 * The steps of an activation as plain data, and the pure moves between them. Stored as they are
 * (jsonb): what the API shows is what the runner resumes from.
 */
export const ACTIVATION_STEPS: readonly ActivationStepName[] = ['license', 'topology', 'content', 'devices'];

export function initialSteps(): ActivationStep[] {
  return ACTIVATION_STEPS.map((name) => ({ name, state: 'pending', detail: null, done: null, total: null, finishedAt: null }));
}

/** The first step not done yet, or null when every step is. */
export function nextStep(steps: readonly ActivationStep[]): ActivationStep | null {
  return steps.find((s) => s.state !== 'done') ?? null;
}

/** `steps` with the named step changed. */
export function withStep(steps: readonly ActivationStep[], name: ActivationStepName, change: Partial<ActivationStep>): ActivationStep[] {
  return steps.map((s) => (s.name === name ? { ...s, ...change } : s));
}

/**
 * What a step leaves for the ones after it and for the result, stored with the activation so that a
 * resumed run has it: the content walk's offset and tallies among them.
 */
export interface ActivationProgress {
  licenseId?: string;
  topologyVersion?: number;
  topologyGenerated?: boolean;
  content?: { offset: number; checked: number; available: number; withoutContent: number; missingCount: number; missing: string[] };
  devicesActivated?: number;
  devicesActive?: number;
}
