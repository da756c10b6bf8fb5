import { EnrollmentRpc } from './enrollment.rpc';
import { InventoryRpc } from './inventory.rpc';
import { LicensingRpc } from './licensing.rpc';
import { TasksDeviceRpc, TasksRpc } from './tasks.rpc';
import { WebhooksRpc } from './webhooks.rpc';
import { ActivationRpc } from './activation.rpc';
import { TopologyDeviceRpc, TopologyRpc } from './topology.rpc';
import { ReportsRpc } from './reports.rpc';

/**
 * Every request/reply subject that some service serves, for the responder of unserved subjects;
 * device-scoped ones as their pattern (`...v2.*`).
 */
export function allRpcSubjects(): string[] {
  return [
    ...Object.values(TasksRpc),
    ...Object.values(TasksDeviceRpc),
    ...Object.values(InventoryRpc),
    ...Object.values(LicensingRpc),
    ...Object.values(EnrollmentRpc),
    ...Object.values(TopologyRpc),
    ...Object.values(TopologyDeviceRpc),
    ...Object.values(WebhooksRpc),
    ...Object.values(ActivationRpc),
    ...Object.values(ReportsRpc),
  ].map((c) => c.subject);
}
