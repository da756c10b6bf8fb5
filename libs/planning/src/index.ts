export * from './flow-model';
export * from './subnet-placement';
export * from './plan-model';
