import type { AssignedPackage } from '@fleetcast/contracts';
import { FleetcastError } from '@fleetcast/contracts';
import { Manifest, Signed, manifestHash, manifestShapeError, verifyManifestSignature } from '@fleetcast/content';
import { AgentErrorCode } from './agent-errors';
import { PinnedKeySet, pinnedKey } from './key-set';

/** A manifest the agent will not verify blocks against. */
export class ManifestRejectedError extends FleetcastError {
  constructor(message: string) {
    super(AgentErrorCode.ManifestRejected, message);
    this.name = 'ManifestRejectedError';
  }
}

/**
 * Accepts a signed manifest for a task's package, or throws why not: it must be well formed, signed
 * by a pinned control-plane key (whichever its key ID names: during a key rotation's overlap, old
 * and new both verify), describe exactly the content the task names and, for a task from a signed
 * assignment, be the very manifest the assignment names by hash. Every block is later trusted only
 * because it matches this manifest, so this is the one place trust in content is established.
 */
export function acceptManifest(
  signed: Signed<Manifest>,
  keys: PinnedKeySet,
  pkg: Pick<AssignedPackage, 'contentId' | 'size'> & { manifestHash?: string },
): Manifest {
  const shape = manifestShapeError(signed.value);
  if (shape !== null) throw new ManifestRejectedError(`manifest is malformed: ${shape}`);
  const key = pinnedKey(keys, signed.keyId);
  if (key === undefined) {
    throw new ManifestRejectedError(`manifest is signed by ${signed.keyId}, a key this device does not pin (pinned: ${keys.keys.map((k) => k.keyId).join(', ') || 'none'})`);
  }
  if (!verifyManifestSignature(signed, key)) {
    throw new ManifestRejectedError(`manifest signature does not verify with control-plane key ${signed.keyId}`);
  }
  if (signed.value.contentId !== pkg.contentId || signed.value.size !== pkg.size) {
    throw new ManifestRejectedError(
      `manifest is for ${signed.value.contentId} (${signed.value.size} bytes), the task names ${pkg.contentId} (${pkg.size} bytes)`,
    );
  }
  if (pkg.manifestHash !== undefined && manifestHash(signed.value) !== pkg.manifestHash) {
    throw new ManifestRejectedError(`manifest ${manifestHash(signed.value)} is not the one the signed assignment names (${pkg.manifestHash})`);
  }
  return signed.value;
}
