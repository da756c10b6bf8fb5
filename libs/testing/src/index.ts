// Helpers for integration, e2e and lab tests that run real servers and processes, never mocks.
// Typical file: `after(stopAll)`; one `createTestDatabase` per file, dropped in `after`.
export * from './wait-for';
export * from './line-ring-buffer';
export * from './free-port';
export * from './node-process';
export * from './nats-server';
export * from './test-database';
export { stopAll } from './cleanup-registry';
export * from './stack';
