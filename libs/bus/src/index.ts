export * from './port.ts';
export { createInProcessBus, type InProcessBusOptions } from './in-process/in-process-bus.ts';
export { partitionFor, murmur2 } from './partitioner.ts';
