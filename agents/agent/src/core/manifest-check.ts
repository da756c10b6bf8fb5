import type { KeyObject } from 'node:crypto';
import type { AssignedPackage } from '@fleetcast/contracts';
import { FleetcastError } from '@fleetcast/contracts';
import { Manifest, Signed, manifestShapeError, verifyManifestSignature } from '@fleetcast/content';
import { AgentErrorCode } from './agent-errors';

/** A manifest the agent will not verify blocks against. */
export class ManifestRejectedError extends FleetcastError {
  constructor(message: string) {
    super(AgentErrorCode.ManifestRejected, message);
    this.name = 'ManifestRejectedError';
  }
}

/**
 * Accepts a signed manifest for a task's package, or throws why not: it must be well formed, signed
 * by the control plane's key, and describe exactly the content the task names. Every block is later
 * trusted only because it matches this manifest, so this is the one place trust is established.
 */
export function acceptManifest(signed: Signed<Manifest>, controlPlaneKey: KeyObject, pkg: Pick<AssignedPackage, 'contentId' | 'size'>): Manifest {
  const shape = manifestShapeError(signed.value);
  if (shape !== null) throw new ManifestRejectedError(`manifest is malformed: ${shape}`);
  if (!verifyManifestSignature(signed, controlPlaneKey)) {
    throw new ManifestRejectedError(`manifest signature does not verify with control-plane key ${signed.keyId}`);
  }
  if (signed.value.contentId !== pkg.contentId || signed.value.size !== pkg.size) {
    throw new ManifestRejectedError(
      `manifest is for ${signed.value.contentId} (${signed.value.size} bytes), the task names ${pkg.contentId} (${pkg.size} bytes)`,
    );
  }
  return signed.value;
}
