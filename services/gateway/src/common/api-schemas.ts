import type { ReferenceObject, SchemaObject } from '@nestjs/swagger';
import { z } from 'zod';
import { deviceSchema, errorBodySchema, InventoryRpc, packageSchema, profileSchema, signedManifestSchema, taskSchema, taskSummarySchema, TasksRpc } from '@fleetcast/contracts';
import { auditLogPageSchema, createUploadSchema, licenseStatusSchema, LicensingRpc, uploadSessionSchema } from '@fleetcast/contracts';
import { storedTopologySchema, topologyDocumentSchema, TopologyRpc, topologyVersionSchema } from '@fleetcast/contracts';
import { planRequestSchema, planSchema, wanSavingsReportSchema } from '@fleetcast/contracts';
import { NamedSchema, SchemaSide, zodToOpenApi, zodToOpenApiComponents } from './zod-openapi';

/**
 * Contract schemas that appear in the API document under a name (components.schemas), so that a
 * client generator produces one type per name. Request bodies are described on their input side
 * (defaults may be omitted), replies on their output side.
 */
export const NAMED_API_SCHEMAS: readonly NamedSchema[] = [
  { name: 'Error', schema: errorBodySchema, side: 'output' },
  { name: 'CreatePackage', schema: TasksRpc.createPackage.request, side: 'input' },
  { name: 'Package', schema: packageSchema, side: 'output' },
  { name: 'PackageList', schema: TasksRpc.listPackages.response, side: 'output' },
  { name: 'SignedManifest', schema: signedManifestSchema, side: 'output' },
  { name: 'CreateUpload', schema: createUploadSchema, side: 'input' },
  { name: 'UploadSession', schema: uploadSessionSchema, side: 'output' },
  { name: 'CreateProfile', schema: TasksRpc.createProfile.request, side: 'input' },
  { name: 'ProfilePatch', schema: TasksRpc.updateProfile.request.shape.patch, side: 'input' },
  { name: 'Profile', schema: profileSchema, side: 'output' },
  { name: 'ProfileList', schema: TasksRpc.listProfiles.response, side: 'output' },
  { name: 'CreateTask', schema: TasksRpc.createTask.request, side: 'input' },
  { name: 'Task', schema: taskSchema, side: 'output' },
  { name: 'TaskList', schema: TasksRpc.listTasks.response, side: 'output' },
  { name: 'TaskSummary', schema: taskSummarySchema, side: 'output' },
  { name: 'DeviceTaskList', schema: TasksRpc.listTaskDevices.response, side: 'output' },
  { name: 'Device', schema: deviceSchema, side: 'output' },
  { name: 'DeviceList', schema: InventoryRpc.listDevices.response, side: 'output' },
  { name: 'SubnetList', schema: InventoryRpc.listSubnets.response, side: 'output' },
  { name: 'License', schema: licenseStatusSchema, side: 'output' },
  { name: 'InstallLicense', schema: LicensingRpc.installLicense.request, side: 'input' },
  { name: 'SeatList', schema: LicensingRpc.listSeats.response, side: 'output' },
  { name: 'AuditLogPage', schema: auditLogPageSchema, side: 'output' },
  // A topology as uploaded (defaults may be left out) and as stored (every field present).
  { name: 'TopologyDocumentInput', schema: topologyDocumentSchema, side: 'input' },
  { name: 'TopologyDocument', schema: topologyDocumentSchema, side: 'output' },
  { name: 'TopologyVersion', schema: topologyVersionSchema, side: 'output' },
  { name: 'StoredTopology', schema: storedTopologySchema, side: 'output' },
  { name: 'TopologyDraft', schema: TopologyRpc.generateDraft.response, side: 'output' },
  { name: 'DeviceOffice', schema: TopologyRpc.deviceOffice.response, side: 'output' },
  { name: 'OfficeList', schema: TopologyRpc.listOffices.response, side: 'output' },
  { name: 'PlanRequest', schema: planRequestSchema, side: 'input' },
  { name: 'Plan', schema: planSchema, side: 'output' },
  { name: 'WanSavingsReport', schema: wanSavingsReportSchema, side: 'output' },
];

/** The document's components.schemas. */
export function apiComponentSchemas(): Record<string, SchemaObject> {
  return zodToOpenApiComponents(NAMED_API_SCHEMAS);
}

/** A reference to the schema's name when it has one, else the schema inline. */
export function schemaOrRef(schema: z.ZodTypeAny, side: SchemaSide): SchemaObject | ReferenceObject {
  const named = NAMED_API_SCHEMAS.find((entry) => entry.schema === schema && entry.side === side);
  return named ? { $ref: `#/components/schemas/${named.name}` } : zodToOpenApi(schema, side);
}
