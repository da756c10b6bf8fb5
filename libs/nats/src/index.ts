export * from './connection';
export * from './jetstream-setup';
export * from './rpc-client';
export * from './durable-consumer';
