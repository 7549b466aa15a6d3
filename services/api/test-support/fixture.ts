import type { OutgoingMessage, Producer } from '@burnrate/bus';
import {
  BurnrateError,
  type Clock,
  type Config,
  createHttpApp,
  createLogger,
  fixedClock,
  fixedConfig,
  type Logger,
  parseConfig,
  type Route,
} from '@burnrate/core';
import type { Anomaly, AnomalyState } from '@burnrate/schemas';
import { createMemoryStore, type Store } from '@burnrate/store';
import { createStateRecorder, type StateRecorder } from '../src/state-recorder.ts';

export const TEST_CONFIG_YAML = `
org: acme
timezone: UTC
public_url: https://burnrate.acme.internal
teams:
  - id: payments
    timezone: Europe/Berlin
    members:
      - alice@acme.com
      - email: bob@acme.com
        aliases: [bob-gh, U0BOB]
    slack: { channel: "#payments-ai-spend" }
    email: [payments-leads@acme.com]
  - id: research
    timezone: America/Los_Angeles
    calendar: { working_hours: { start: "10:30", end: "18:00" } }
    members: [carol@acme.com]
`;

/** The producer port in memory: what the recorder published, or a failure on demand. */
export interface RecordingProducer extends Producer {
  sent: { topic: string; message: OutgoingMessage }[];
  failNext: boolean;
}

export function recordingProducer(): RecordingProducer {
  const producer: RecordingProducer = {
    sent: [],
    failNext: false,
    async send(topic, messages) {
      if (producer.failNext) {
        producer.failNext = false;
        throw new BurnrateError('BUS_UNAVAILABLE', 'the bus is down');
      }
      for (const message of messages) producer.sent.push({ topic, message });
    },
  };
  return producer;
}

export interface HumanFixture {
  config: Config;
  store: Store;
  producer: RecordingProducer;
  recorder: StateRecorder;
  clock: Clock & { advance(ms: number): void; set(d: Date): void };
  log: Logger;
  /** Every log line, parsed. */
  logs: Record<string, unknown>[];
  /** Decisions as published on anomaly-state.v1. */
  published(): AnomalyState[];
  /** Decisions in the store, oldest first. */
  stored(anomalyId?: string): Promise<AnomalyState[]>;
  seed(...anomalies: Anomaly[]): Promise<void>;
  app(routes: Route[]): ReturnType<typeof createHttpApp>;
}

export function humanFixture(now = new Date('2026-11-27T14:10:00Z'), yaml = TEST_CONFIG_YAML): HumanFixture {
  const logs: Record<string, unknown>[] = [];
  const log = createLogger({
    level: 'debug',
    destination: { write: (line: string) => void logs.push(JSON.parse(line) as Record<string, unknown>) },
  });
  const store = createMemoryStore();
  const producer = recordingProducer();
  const config = parseConfig(yaml);
  return {
    config,
    store,
    producer,
    recorder: createStateRecorder({ producer, store, log }),
    clock: fixedClock(now),
    log,
    logs,
    published: () => producer.sent.map((s) => JSON.parse(s.message.value) as AnomalyState),
    stored: (anomalyId) => store.listAnomalyStates(anomalyId ? { anomaly_id: anomalyId } : {}),
    seed: (...anomalies) => store.insertAnomalies(anomalies),
    app: (routes) => createHttpApp({ routes, log }),
  };
}

export const configSource = (config: Config) => fixedConfig(config);
