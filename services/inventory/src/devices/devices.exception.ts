import { ErrorCode, FleetcastError } from '@fleetcast/contracts';

export class DeviceNotFoundError extends FleetcastError {
  constructor(deviceId: string) {
    super(ErrorCode.DeviceNotFound, `no device ${deviceId} in the inventory`);
    this.name = 'DeviceNotFoundError';
  }
}

/** A subnet filter that is not a CIDR: a CONTRACT.INVALID that names the field. */
export class InvalidSubnetError extends FleetcastError {
  constructor(path: string, value: string) {
    const problem = `"${value}" is not a subnet in CIDR form (like 10.1.2.0/24 or 2001:db8::/64)`;
    super(ErrorCode.ContractInvalid, `invalid ${path}: ${problem}`, [{ path, message: problem }]);
    this.name = 'InvalidSubnetError';
  }
}

/** A scan that passed its schema but cannot be stored; permanent, so it is dead-lettered at once. */
export class UnstorableScanError extends FleetcastError {
  constructor(deviceId: string, reason: string) {
    super(ErrorCode.ContractInvalid, `scan of device ${deviceId} cannot be stored: ${reason}`);
    this.name = 'UnstorableScanError';
  }
}
