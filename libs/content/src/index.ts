export * from './manifest';
export * from './block-hasher';
export * from './wire';
