import { type handleUnaryCall, Metadata, Server, ServerCredentials, type ServerUnaryCall, type ServiceDefinition } from '@grpc/grpc-js';
import { createServer } from 'node:net';
import { errorResponse, type IncomingRequest, listenOn, type Logger, type PortSharing } from '@burnrate/core';
import type { IngestGate, IngestPrincipal } from './auth.ts';
import { grpcCodeOf, type OtlpExportResponse, type OtlpExports } from './otlp-export.ts';
import { decodeOtlp, encodeOtlpResponse, type OtlpSignal } from './otlp-proto.ts';

export const DEFAULT_OTLP_GRPC_PORT = 4317;

export interface OtlpGrpcServerOptions {
  exports: OtlpExports;
  gate: IngestGate;
  log: Logger;
  /** Largest request message, after decompression; the HTTP body limit. Default 5 MiB. */
  maxMessageBytes?: number;
}

export interface OtlpGrpcServer {
  /** Binds (`sharing` as listenOn takes it); resolves with the bound port (useful with port 0). */
  listen(port: number, host: string, sharing?: PortSharing): Promise<{ port: number }>;
  /**
   * Stops accepting connections and sends every client a GOAWAY: running calls finish (up to
   * `graceMs`, then the rest are cut), and clients open their next call on a new connection, to
   * a successor on the same port when there is one.
   */
  close(graceMs?: number): Promise<void>;
}

const SERVICE: Record<OtlpSignal, string> = {
  logs: '/opentelemetry.proto.collector.logs.v1.LogsService/Export',
  metrics: '/opentelemetry.proto.collector.metrics.v1.MetricsService/Export',
};

/**
 * One OTLP Export method. The request stays bytes until the handler decodes it, so a body that is
 * not an export request is refused as INVALID_ARGUMENT with the reason, like the HTTP receiver's 400.
 */
function exportMethod(signal: OtlpSignal): ServiceDefinition {
  return {
    Export: {
      path: SERVICE[signal],
      requestStream: false,
      responseStream: false,
      requestSerialize: (bytes: Buffer) => bytes,
      requestDeserialize: (bytes: Buffer) => bytes,
      responseSerialize: (answer: OtlpExportResponse) => encodeOtlpResponse(signal, answer),
      responseDeserialize: (bytes: Buffer) => bytes,
    },
  };
}

/** What the ingest gate reads of a request (the key, the peer), from a gRPC call's metadata. */
function asRequest(call: ServerUnaryCall<Buffer, OtlpExportResponse>, signal: OtlpSignal): IncomingRequest {
  const headers: Record<string, string> = {};
  for (const name of ['authorization', 'x-burnrate-key']) {
    const value = call.metadata.get(name)[0];
    if (typeof value === 'string') headers[name] = value;
  }
  const bytes = call.request;
  return {
    method: 'POST',
    path: SERVICE[signal],
    query: new URLSearchParams(),
    headers,
    params: {},
    contentType: 'application/grpc',
    remoteAddress: peerAddress(call.getPeer()),
    body: () => Promise.resolve(bytes),
  };
}

/** `ipv4:127.0.0.1:5555` / `ipv6:[::1]:5555` → the address. */
function peerAddress(peer: string): string {
  const match = /^(?:ipv4:|ipv6:)?\[?([^\]]*?)\]?(?::\d+)?$/.exec(peer);
  return match?.[1] ?? peer;
}

/**
 * The OTLP/gRPC receivers (`OTEL_EXPORTER_OTLP_PROTOCOL=grpc`): LogsService and MetricsService
 * Export on their own port (4317 by default, as collectors use), with the same keys, limits,
 * conversion and durability as OTLP/HTTP: the answer is sent once the events are on the bus. Errors
 * carry the gRPC code the exporters act on: UNAVAILABLE (retried) while the bus is down or past the
 * rate limit, INVALID_ARGUMENT / UNAUTHENTICATED / PERMISSION_DENIED (not retried) with the reason.
 * gzip-compressed calls are decompressed by grpc-js.
 */
export function createOtlpGrpcServer(options: OtlpGrpcServerOptions): OtlpGrpcServer {
  const { exports, gate, log } = options;
  const maxMessageBytes = options.maxMessageBytes ?? 5 * 1024 * 1024;
  const server = new Server({ 'grpc.max_receive_message_length': maxMessageBytes });

  const handler =
    (signal: OtlpSignal): handleUnaryCall<Buffer, OtlpExportResponse> =>
    (call, callback) => {
      const req = asRequest(call, signal);
      let principal: IngestPrincipal | undefined;
      const fail = (err: unknown): void => {
        exports.refused(signal, { transport: 'grpc', remoteAddress: req.remoteAddress, ...(principal ? { principal } : {}) }, err);
        const answer = errorResponse(err, log);
        const details = (answer.body as { error?: { message?: string } } | undefined)?.error?.message ?? 'error';
        const metadata = new Metadata();
        const retryAfter = answer.headers?.['retry-after'];
        if (retryAfter !== undefined) metadata.set('retry-after', retryAfter);
        callback({ code: grpcCodeOf(answer.status), details, metadata });
      };
      try {
        principal = gate.admit(req);
        const body = decodeOtlp(signal, call.request);
        const work = signal === 'logs' ? exports.logs(body, principal) : exports.metrics(body, principal);
        work.then((answer) => callback(null, answer), fail);
      } catch (err) {
        fail(err);
      }
    };

  server.addService(exportMethod('logs'), { Export: handler('logs') });
  server.addService(exportMethod('metrics'), { Export: handler('metrics') });

  // grpc-js binds only exclusively; connections accepted here are handed to it instead, so the
  // port can be shared with a successor (listenOn).
  const injector = server.createConnectionInjector(ServerCredentials.createInsecure());
  const listener = createServer((socket) => injector.injectConnection(socket));
  let closing: Promise<void> | undefined;

  return {
    listen: async (port, host, sharing = 'exclusive') => {
      try {
        return { port: await listenOn(listener, port, host, sharing) };
      } catch (err) {
        const address = host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
        throw new Error(`could not listen for OTLP/gRPC on ${address}: ${(err as Error).message}`, { cause: err });
      }
    },
    close: (graceMs = 10_000) =>
      (closing ??= new Promise<void>((resolve) => {
        listener.close();
        const timer = setTimeout(() => server.forceShutdown(), graceMs);
        timer.unref();
        server.tryShutdown(() => {
          clearTimeout(timer);
          resolve();
        });
      })),
  };
}
