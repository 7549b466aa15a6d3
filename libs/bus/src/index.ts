export * from './port.ts';
export { createInProcessBus, type InProcessBus, type InProcessBusOptions } from './in-process/in-process-bus.ts';
export { partitionFor, murmur2 } from './partitioner.ts';
export { createKafkaBus, type KafkaBus, type KafkaBusOptions, type KafkaBusStats, type KafkaTopicSpec } from './kafka/kafka-bus.ts';
export type { KafkaConsumerTuning, KafkaSubscribeOptions, KafkaSubscription, KafkaSubscriptionStats } from './kafka/kafka-subscription.ts';
export { createKafkaProducer, type KafkaProducer, type KafkaProducerDeps } from './kafka/kafka-producer.ts';
export { translateKafkaError } from './kafka/kafka-errors.ts';
export {
  declaredPartitions,
  declareTopics,
  describeChange,
  DETECTOR_STATE_TOPIC,
  type ExistingTopic,
  planTopicChanges,
  type TopicChange,
  type TopicDeclaration,
  type TopicEnvironment,
  topicEnvironment,
  type TopicPlan,
} from './kafka/topics.ts';
