import { InventoryRpc } from './inventory.rpc';
import { TasksRpc } from './tasks.rpc';

/** Every request/reply subject that some service serves, for the responder of unserved subjects. */
export function allRpcSubjects(): string[] {
  return [...Object.values(TasksRpc), ...Object.values(InventoryRpc)].map((c) => c.subject);
}
