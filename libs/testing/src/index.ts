export * from './wait-for';
export * from './line-ring-buffer';
export * from './free-port';
export * from './node-process';
export * from './nats-server';
export * from './test-database';
export { stopAll } from './cleanup-registry';
