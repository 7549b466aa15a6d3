export * from './common.ts';
export * from './usage-event.v1.ts';
export * from './usage-rollup.v1.ts';
export * from './dlq.v1.ts';
export * from './anomaly.v1.ts';
export * from './anomaly-state.v1.ts';
export * from './silence.v1.ts';
export * from './topics.ts';
export { instantMs } from './fast-checks.ts';
