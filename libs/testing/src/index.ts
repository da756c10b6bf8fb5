// Helpers for integration, e2e and lab tests that run real servers and processes, never mocks.
// Typical file: `after(stopAll)`; one `createTestDatabase` per file, dropped in `after`.
export * from './wait-for';
export * from './line-ring-buffer';
export * from './free-port';
export * from './node-process';
export * from './nats-server';
export * from './nats-cluster';
export * from './nats-leaf';
export * from './tcp-relay';
export * from './test-certificates';
export * from './test-database';
export { stopAll } from './cleanup-registry';
export * from './stack';
export * from './lab-names';
export * from './lab-stack';
export * from './lab-report';
export * from './lab-topology';
export * from './agent-cache';
// What a lab test needs of the network lab, so that a test package depends on this harness alone.
export { createLab, destroyLab, labAvailable, listLabResources } from '@fleetcast/netlab';
export type { Lab, LabAvailability, LabHost, LabSpec, WanCounters } from '@fleetcast/netlab';
