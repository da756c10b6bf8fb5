export * from './permissions';
export * from './fleet-trust';
export * from './trust-files';
export * from './account-updates';
