export * from './manifest';
export * from './block-hasher';
export * from './assignment';
export * from './wire';
export * from './download-token';
export * from './content-deletions';
export * from './peer-pass';
