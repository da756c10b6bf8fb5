export * from './config';
export * from './tokens';
export * from './nats-transport';
export * from './errors';
export * from './platform.module';
export * from './bootstrap';
