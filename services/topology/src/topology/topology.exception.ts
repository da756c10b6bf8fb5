import { ErrorCode, FleetcastError, TopologyProblem } from '@fleetcast/contracts';

/** A document with problems: every one in `details`, with its JSON pointer and problem code. Nothing was stored. */
export class TopologyInvalidError extends FleetcastError {
  constructor(readonly problems: TopologyProblem[]) {
    const first = problems.slice(0, 3).map((p) => `${p.path || '(document)'}: ${p.message}`);
    const more = problems.length > 3 ? `; and ${problems.length - 3} more` : '';
    super(
      ErrorCode.TopologyInvalid,
      `topology refused, ${problems.length} ${problems.length === 1 ? 'problem' : 'problems'}: ${first.join('; ')}${more}`,
      problems.map((p) => ({ path: p.path, message: p.message, code: p.code })),
    );
    this.name = 'TopologyInvalidError';
  }
}

export class NoTopologyError extends FleetcastError {
  constructor() {
    super(ErrorCode.NoTopology, 'no topology has been uploaded yet: upload one (POST /v1/topology) or generate a draft from the inventory');
    this.name = 'NoTopologyError';
  }
}

export class TopologyVersionNotFoundError extends FleetcastError {
  constructor(version: number, current: number | null) {
    super(ErrorCode.TopologyVersionNotFound, `topology version ${version} does not exist (the current version is ${current ?? 'none'})`);
    this.name = 'TopologyVersionNotFoundError';
  }
}

export class TopologyVersionConflictError extends FleetcastError {
  constructor(baseVersion: number, current: number | null) {
    super(
      ErrorCode.TopologyVersionConflict,
      `the change was made against version ${baseVersion}, but the current version is ${current ?? 0}: fetch it, apply the change again and upload`,
      [{ path: 'baseVersion', message: `current version is ${current ?? 0}` }],
    );
    this.name = 'TopologyVersionConflictError';
  }
}

export class TopologyDeviceUnknownError extends FleetcastError {
  constructor(deviceId: string) {
    super(ErrorCode.TopologyDeviceUnknown, `no scan of device ${deviceId} has reached the topology service: its addresses are unknown`);
    this.name = 'TopologyDeviceUnknownError';
  }
}
