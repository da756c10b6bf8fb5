import type { AgentVersionState, InventoryScanV1, NetworkInterface, Platform } from '@fleetcast/contracts';
import { agentVersionStatus } from './agent-version';
import { deriveDeviceSubnets } from './subnet';

/** What one scan stores: the scan's own fields plus the subnets derived from its addresses. */
export interface DeviceRecord {
  id: string;
  hostname: string;
  platform: Platform;
  osVersion: string;
  agentVersion: string;
  interfaces: NetworkInterface[];
  subnets: string[];
  primarySubnet: string | null;
  cachedContentIds: string[];
  cacheFreeBytes: number;
  scannedAt: string;
  scanSeq: number;
  /** The agent version judged against `versionRange`: whether the device is distributed to, and if not, why. */
  versionState: AgentVersionState;
  versionReason: string | null;
  /** The supported range the version was judged against, so that a change of the range can find what to judge again. */
  versionRange: string;
}

/** The stored form of a scan, its agent version judged against the supported range `supportedAgentVersions`. */
export function toDeviceRecord(scan: InventoryScanV1, supportedAgentVersions: string): DeviceRecord {
  const { subnets, primary } = deriveDeviceSubnets(scan.interfaces);
  const version = agentVersionStatus(scan.agentVersion, supportedAgentVersions);
  return {
    id: scan.deviceId,
    hostname: scan.hostname,
    platform: scan.platform,
    osVersion: scan.osVersion,
    agentVersion: scan.agentVersion,
    interfaces: scan.interfaces,
    subnets,
    primarySubnet: primary,
    cachedContentIds: scan.cache.contentIds,
    cacheFreeBytes: scan.cache.freeBytes,
    scannedAt: scan.scannedAt,
    scanSeq: scan.scanSeq,
    versionState: version.state,
    versionReason: version.reason,
    versionRange: supportedAgentVersions,
  };
}

/**
 * Keeps, for each device, only its scan with the highest scanSeq (the first one on a tie: a
 * redelivered copy), ordered by device ID. One row per device is what lets a whole batch go into
 * one `INSERT ... ON CONFLICT DO UPDATE` (Postgres refuses to update a row twice in one statement),
 * and the fixed order makes concurrent batches of two instances lock rows in the same order, so
 * they wait for each other instead of deadlocking.
 */
export function latestScanPerDevice<T extends Pick<InventoryScanV1, 'deviceId' | 'scanSeq'>>(scans: readonly T[]): T[] {
  const latest = new Map<string, T>();
  for (const scan of scans) {
    const kept = latest.get(scan.deviceId);
    if (!kept || scan.scanSeq > kept.scanSeq) latest.set(scan.deviceId, scan);
  }
  return [...latest.values()].sort((a, b) => (a.deviceId < b.deviceId ? -1 : a.deviceId > b.deviceId ? 1 : 0));
}

/**
 * Why a scan that passed its schema still cannot be stored, or null. Postgres text and jsonb
 * refuse the NUL character, jsonb an unpaired surrogate, and numbers past 2^53 are not exact once
 * parsed from JSON: such a scan would fail its transaction on every delivery (or store a wrong
 * value), so it is rejected as invalid, and dead-lettered, at once instead.
 */
export function unstorableReason(scan: InventoryScanV1): string | null {
  const texts = [scan.hostname, scan.osVersion, scan.agentVersion, ...scan.interfaces.map((nic) => nic.name)];
  if (texts.some((text) => text.includes('\u0000'))) return 'a text field contains the NUL character';
  // With the u flag only an unpaired surrogate matches; jsonb refuses its \uD8xx escape.
  if (texts.some((text) => /[\uD800-\uDFFF]/u.test(text))) return 'a text field contains an unpaired UTF-16 surrogate';
  if (!Number.isSafeInteger(scan.scanSeq)) return 'scanSeq is above 2^53 - 1, beyond what is exact in JSON numbers';
  if (!Number.isSafeInteger(scan.cache.freeBytes)) return 'cache.freeBytes is above 2^53 - 1, beyond what is exact in JSON numbers';
  // ISO 8601 allows year 0000 and the schema with it; Postgres has no year zero and refuses the text.
  if (scan.scannedAt.startsWith('0000-')) return 'scannedAt is in the year 0000';
  return null;
}
