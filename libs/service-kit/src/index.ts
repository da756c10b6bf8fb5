export * from './config';
export * from './tokens';
export * from './nats-transport';
export * from './errors';
export * from './rpc-trace.interceptor';
export * from './platform.module';
export * from './bootstrap';
export * from './unserved-subject.responder';
