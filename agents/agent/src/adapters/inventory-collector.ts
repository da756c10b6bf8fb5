import { readFile } from 'node:fs/promises';
import { hostname, networkInterfaces, platform, release } from 'node:os';
import { FleetcastError, InventoryScanV1, Platform, NetworkInterface, inventoryScanV1Schema, parseOrThrow } from '@fleetcast/contracts';
import { AgentErrorCode } from '../core/agent-errors';
import {
  RawInterfaces,
  interfacesSignature,
  mergeGateways,
  parseIpv4DefaultRoutes,
  parseIpv6DefaultRoutes,
  platformFromNode,
  toInventoryInterfaces,
} from '../core/network-interfaces';

/** The contract's limit on content IDs in one scan; a larger cache reports its first ones (sorted). */
export const MAX_SCAN_CONTENT_IDS = 10_000;
/** The contract's limit on the hostname. */
const MAX_HOSTNAME_CHARS = 255;

export class UnsupportedPlatformError extends FleetcastError {
  constructor(nodePlatform: string) {
    super(AgentErrorCode.UnsupportedPlatform, `platform "${nodePlatform}" is not one of windows, macos, linux`);
    this.name = 'UnsupportedPlatformError';
  }
}

/** What the collector needs of the content cache. */
export interface CacheInventory {
  list(): Promise<string[]>;
  freeBytes(): Promise<number>;
}

export interface InventoryOptions {
  deviceId: string;
  agentVersion: string;
  cache: CacheInventory;
  /** Report loopback and other internal interfaces too (a lab of agents on one machine needs them). */
  includeInternal?: boolean;
}

/** This machine's platform and host name, as the contracts spell them. */
export function machineFacts(): { platform: Platform; hostname: string } {
  const nodePlatform = platform();
  const mapped = platformFromNode(nodePlatform);
  if (mapped === null) throw new UnsupportedPlatformError(nodePlatform);
  return { platform: mapped, hostname: (hostname() || 'unknown').slice(0, MAX_HOSTNAME_CHARS) };
}

/**
 * Builds an inventory scan of this machine. `scanSeq` must grow with every scan of the device
 * (the service keeps the newest); the caller owns it. The result is checked against the contract
 * here, so a machine with something odd fails loudly at the agent, not as a dead letter.
 */
export async function collectInventory(options: InventoryOptions, scanSeq: number, now: Date = new Date()): Promise<InventoryScanV1> {
  const machine = machineFacts();
  const gateways = await readDefaultGateways();
  const [contentIds, freeBytes] = await Promise.all([options.cache.list(), options.cache.freeBytes()]);
  const scan: InventoryScanV1 = {
    deviceId: options.deviceId,
    scanSeq,
    scannedAt: now.toISOString(),
    hostname: machine.hostname,
    platform: machine.platform,
    osVersion: release().slice(0, 200),
    agentVersion: options.agentVersion,
    interfaces: toInventoryInterfaces(networkInterfaces() as RawInterfaces, gateways, options.includeInternal ?? false),
    cache: { contentIds: contentIds.slice(0, MAX_SCAN_CONTENT_IDS), freeBytes: Math.max(0, Math.floor(freeBytes)) },
  };
  return parseOrThrow(inventoryScanV1Schema, scan, 'inventory scan');
}

/**
 * Default gateway of each interface. Linux exposes its routing table in /proc; elsewhere (and in a
 * container without /proc/net) the gateways are unknown and reported as null rather than guessed.
 */
export async function readDefaultGateways(): Promise<Map<string, string>> {
  if (platform() !== 'linux') return new Map();
  const [ipv4, ipv6] = await Promise.all([readOrEmpty('/proc/net/route'), readOrEmpty('/proc/net/ipv6_route')]);
  return mergeGateways(parseIpv4DefaultRoutes(ipv4), parseIpv6DefaultRoutes(ipv6));
}

async function readOrEmpty(path: string): Promise<string> {
  try {
    return await readFile(path, 'utf8');
  } catch {
    return '';
  }
}

export interface NetworkWatch {
  stop(): void;
}

export interface NetworkWatchOptions {
  includeInternal?: boolean;
  /** Where interfaces are read from; `os.networkInterfaces` unless given (tests give a changing one). */
  readInterfaces?: () => RawInterfaces;
}

/**
 * Polls the interface set every `intervalMs` and calls `onChange` with the new set when it differs
 * from the last one seen (addresses, prefixes, MACs; gateways are not polled: a new router on the
 * same subnet does not move the device). Polling because Node has no portable change event and a
 * few microseconds every few seconds cost nothing. The timer does not keep the process alive.
 */
export function watchNetworkChanges(intervalMs: number, onChange: (interfaces: NetworkInterface[]) => void, options: NetworkWatchOptions = {}): NetworkWatch {
  const read = options.readInterfaces ?? (() => networkInterfaces() as RawInterfaces);
  const snapshot = () => toInventoryInterfaces(read(), new Map(), options.includeInternal ?? false);
  let last = interfacesSignature(snapshot());
  const timer = setInterval(() => {
    let current: NetworkInterface[];
    try {
      current = snapshot();
    } catch {
      // A failed read is not a change; the next tick tries again.
      return;
    }
    const signature = interfacesSignature(current);
    if (signature === last) return;
    last = signature;
    onChange(current);
  }, intervalMs);
  timer.unref();
  return { stop: () => clearInterval(timer) };
}
