import type { Logger } from './logger.ts';

/** Anything a composition root starts and must stop: consumers, servers, clients. */
export interface Service {
  readonly name: string;
  start(): Promise<void>;
  stop(): Promise<void>;
}

/**
 * Starts services in order and stops them in reverse, so a consumer stops before the producer it
 * feeds and the store it writes to are closed. A stop that throws is logged and the rest still stop.
 */
export class Lifecycle {
  private readonly registered: Service[] = [];
  private readonly started: Service[] = [];
  private stopping: Promise<void> | undefined;
  private readonly log: Logger;

  constructor(log: Logger) {
    this.log = log;
  }

  /** Adds a service to start later with startAll(), after those registered before it. */
  register(service: Service): void {
    this.registered.push(service);
  }

  /** Starts the registered services in order; if one fails, the ones started stay for stop(). */
  async startAll(): Promise<void> {
    for (const service of this.registered.splice(0)) await this.start(service);
  }

  async start(service: Service): Promise<void> {
    await service.start();
    this.started.push(service);
    this.log.debug({ service: service.name }, 'service started');
  }

  stop(): Promise<void> {
    this.stopping ??= (async () => {
      for (const service of this.started.reverse()) {
        try {
          await service.stop();
          this.log.debug({ service: service.name }, 'service stopped');
        } catch (err) {
          this.log.error({ err, service: service.name }, 'service failed to stop cleanly');
        }
      }
    })();
    return this.stopping;
  }
}
