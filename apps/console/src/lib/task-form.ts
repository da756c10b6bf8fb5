import type { CreateTask, Platform } from '@fleetcast/contracts';

/** The task creation form as the page holds it: strings and choices, before validation. */
export interface TaskForm {
  name: string;
  packageId: string;
  targetMode: 'devices' | 'query';
  /** Device IDs separated by commas, spaces or new lines. */
  deviceIds: string;
  platform: '' | Platform;
  subnet: string;
  hostnamePrefix: string;
  includeStale: boolean;
  action: 'install' | 'cache-only';
  /** '' = the devices' default profile. */
  profileId: string;
  schedule: 'now' | 'at';
  /** `YYYY-MM-DDTHH:MM` from a datetime-local input, read as UTC (the console shows every time in UTC). */
  startAt: string;
}

export const emptyTaskForm: TaskForm = {
  name: '',
  packageId: '',
  targetMode: 'devices',
  deviceIds: '',
  platform: '',
  subnet: '',
  hostnamePrefix: '',
  includeStale: false,
  action: 'install',
  profileId: '',
  schedule: 'now',
  startAt: '',
};

export type TaskFormField = keyof TaskForm;
export type TaskFormResult = { ok: true; body: CreateTask } | { ok: false; errors: Partial<Record<TaskFormField, string>> };

/** As the API's idSchema: 1-64 characters of A-Z, a-z, 0-9, "_" or "-". */
const ID = /^[A-Za-z0-9_-]{1,64}$/;

export function parseDeviceIds(text: string): string[] {
  return [...new Set(text.split(/[\s,]+/).filter((s) => s.length > 0))];
}

/**
 * The request body of `POST /v1/tasks`, or a message per field that is wrong: the form says what to
 * fix before the API is asked (which would refuse the same things with a 400).
 */
export function buildCreateTask(form: TaskForm, now: number): TaskFormResult {
  const errors: Partial<Record<TaskFormField, string>> = {};
  if (!form.packageId) errors.packageId = 'choose a package';
  if (form.name.length > 200) errors.name = 'at most 200 characters';
  let targets: CreateTask['targets'] = {};
  if (form.targetMode === 'devices') {
    const ids = parseDeviceIds(form.deviceIds);
    const bad = ids.filter((id) => !ID.test(id));
    if (ids.length === 0) errors.deviceIds = 'give at least one device ID';
    else if (bad.length > 0) errors.deviceIds = `not a device ID: ${bad.slice(0, 3).join(', ')}`;
    targets = { deviceIds: ids };
  } else {
    const query: NonNullable<CreateTask['targets']['query']> = { includeStale: form.includeStale };
    if (form.platform) query.platform = form.platform;
    if (form.subnet.trim()) query.subnet = form.subnet.trim();
    if (form.hostnamePrefix.trim()) query.hostnamePrefix = form.hostnamePrefix.trim();
    if (!query.platform && !query.subnet && !query.hostnamePrefix) errors.platform = 'narrow the query: a platform, a subnet or a hostname prefix (or target devices by ID)';
    targets = { query };
  }
  let startAt: string | undefined;
  if (form.schedule === 'at') {
    const ms = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2})?$/.test(form.startAt) ? Date.parse(`${form.startAt}Z`) : Number.NaN;
    if (Number.isNaN(ms)) errors.startAt = 'give a date and time (UTC)';
    else if (ms < now - 60_000) errors.startAt = 'the time is in the past: choose "now" or a later time';
    else startAt = new Date(ms).toISOString();
  }
  if (Object.keys(errors).length > 0) return { ok: false, errors };
  const body: CreateTask = { packageId: form.packageId, action: form.action, targets };
  if (form.name.trim()) body.name = form.name.trim();
  if (form.profileId) body.profileId = form.profileId;
  if (startAt) body.startAt = startAt;
  return { ok: true, body };
}
