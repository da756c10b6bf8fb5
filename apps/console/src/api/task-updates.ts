import type { DeviceTask, Task } from '@fleetcast/contracts';
import { isSettled, type TaskSnapshot } from '../lib/task-view';
import { type ApiClient, describeError } from './api-client';

/**
 * Where the task page's updates come from: today a poll of the task (with its summary) and its
 * devices every POLL_INTERVAL_MS. The only place that knows how updates arrive, so that a
 * server-sent event stream can replace the poll: the page hands in callbacks and gets a stop function.
 */

/** 1.5 s: a device's state change shows within two seconds, at two small reads per interval. */
export const POLL_INTERVAL_MS = 1500;
/** The first page of devices: the API's largest page. A bigger task shows its first 1000 and says so. */
const DEVICE_PAGE = 1000;

export interface TaskUpdateCallbacks {
  onSnapshot(snapshot: TaskSnapshot, at: number): void;
  onError(message: string, at: number): void;
}

export async function readTaskSnapshot(api: ApiClient, taskId: string): Promise<TaskSnapshot> {
  const id = encodeURIComponent(taskId);
  const [task, devices] = await Promise.all([
    api.get<Task>(`/v1/tasks/${id}`),
    api.get<{ items: DeviceTask[]; total: number }>(`/v1/tasks/${id}/devices?limit=${DEVICE_PAGE}`),
  ]);
  return { task, devices: devices.items, devicesTotal: devices.total };
}

/** Follows a task until it settles (every device final) or `stop` is called. */
export function followTask(api: ApiClient, taskId: string, callbacks: TaskUpdateCallbacks): () => void {
  let stopped = false;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const tick = async () => {
    // Stamped when asked, so that an answer overtaken by a later one is known as older.
    const at = Date.now();
    let settled = false;
    try {
      const snapshot = await readTaskSnapshot(api, taskId);
      if (stopped) return;
      callbacks.onSnapshot(snapshot, at);
      settled = isSettled(snapshot.task.summary);
    } catch (error) {
      if (stopped) return;
      callbacks.onError(describeError(error), at);
    }
    if (!stopped && !settled) timer = setTimeout(tick, POLL_INTERVAL_MS);
  };
  void tick();
  return () => {
    stopped = true;
    if (timer) clearTimeout(timer);
  };
}
