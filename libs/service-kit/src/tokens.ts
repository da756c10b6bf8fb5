/** Injection tokens of the platform providers every service shares. */
export const LOGGER = Symbol('LOGGER');
export const METRICS = Symbol('METRICS');
export const NATS_CONNECTION = Symbol('NATS_CONNECTION');
export const PLATFORM_OPTIONS = Symbol('PLATFORM_OPTIONS');
