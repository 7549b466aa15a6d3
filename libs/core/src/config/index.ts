export * from './schema.ts';
export * from './load.ts';
export * from './lookup.ts';
export * from './detectors.ts';
export * from './ingest.ts';
export * from './warnings.ts';
export * from './json-schema.ts';
export * from './sources.ts';
export * from './receivers.ts';
// The field types a channel's receiver settings are built from (@burnrate/notify).
export { Email, SlackChannel } from './primitives.ts';
export * from './source.ts';
export * from './diff.ts';
