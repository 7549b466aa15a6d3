import { join } from 'node:path';
import { BurnrateError } from '@burnrate/core';
import { OTLP_PROTO_DIR } from '@burnrate/schemas';
import protobuf from 'protobufjs';

/**
 * OTLP protobuf, read and written with the official OpenTelemetry `.proto` definitions
 * (schemas/otlp) through protobufjs, for the OTLP/HTTP protobuf receivers and the OTLP/gRPC
 * services.
 *
 * A decoded request is handed on in the shape OTLP/HTTP JSON gives it (field names in lowerCamelCase,
 * 64-bit integers as decimal strings, trace and span ids in hex, one key per set `AnyValue`
 * member), so one conversion serves every transport and a record gets the same event id whichever
 * way it came.
 */

const LOGS_SERVICE = 'opentelemetry/proto/collector/logs/v1/logs_service.proto';
const METRICS_SERVICE = 'opentelemetry/proto/collector/metrics/v1/metrics_service.proto';

const root = new protobuf.Root();
root.resolvePath = (_origin, target) => join(OTLP_PROTO_DIR, target);
root.loadSync([LOGS_SERVICE, METRICS_SERVICE], { keepCase: false });

const LogsRequest = root.lookupType('opentelemetry.proto.collector.logs.v1.ExportLogsServiceRequest');
const LogsResponse = root.lookupType('opentelemetry.proto.collector.logs.v1.ExportLogsServiceResponse');
const MetricsRequest = root.lookupType('opentelemetry.proto.collector.metrics.v1.ExportMetricsServiceRequest');
const MetricsResponse = root.lookupType('opentelemetry.proto.collector.metrics.v1.ExportMetricsServiceResponse');

/**
 * `google.rpc.Status`, the body OTLP/HTTP protobuf sends with an error status. Only its code and
 * message: `details` would need `google.protobuf.Any`, and no exporter reads more than the message.
 */
const Status = new protobuf.Type('Status').add(new protobuf.Field('code', 1, 'int32')).add(new protobuf.Field('message', 2, 'string'));
new protobuf.Root().define('google.rpc').add(Status);

export type OtlpSignal = 'logs' | 'metrics';

const REQUEST: Record<OtlpSignal, protobuf.Type> = { logs: LogsRequest, metrics: MetricsRequest };
const RESPONSE: Record<OtlpSignal, protobuf.Type> = { logs: LogsResponse, metrics: MetricsResponse };
const REQUEST_NAME: Record<OtlpSignal, string> = { logs: 'ExportLogsServiceRequest', metrics: 'ExportMetricsServiceRequest' };

const TO_JSON_SHAPE: protobuf.IConversionOptions = { longs: String, enums: Number, bytes: String, defaults: false, arrays: false };

/** Fields of type `bytes` that OTLP JSON writes in hex instead of protobuf JSON's base64. */
const HEX_FIELDS: ReadonlySet<string> = new Set(['traceId', 'spanId']);

/**
 * Decodes an OTLP ExportLogsServiceRequest or ExportMetricsServiceRequest from protobuf bytes into
 * its OTLP/HTTP JSON shape; throws INPUT_INVALID naming what is wrong when the bytes are not one.
 */
export function decodeOtlp(signal: OtlpSignal, bytes: Uint8Array): Record<string, unknown> {
  let message: protobuf.Message;
  try {
    message = REQUEST[signal].decode(bytes);
  } catch (err) {
    throw new BurnrateError(
      'INPUT_INVALID',
      `request body is not an OTLP ${REQUEST_NAME[signal]} in protobuf: ${(err as Error).message}; send the exporter's protobuf body unchanged (Content-Type application/x-protobuf)`,
      { cause: err },
    );
  }
  return hexIds(REQUEST[signal].toObject(message, TO_JSON_SHAPE)) as Record<string, unknown>;
}

/** The protobuf bytes of an Export…ServiceResponse given in its JSON shape (`{ partialSuccess: {...} }`). */
export function encodeOtlpResponse(signal: OtlpSignal, body: unknown): Buffer {
  const type = RESPONSE[signal];
  return Buffer.from(type.encode(type.fromObject(body as Record<string, unknown>)).finish());
}

/** The protobuf bytes of a `google.rpc.Status`. */
export function encodeStatus(code: number, message: string): Buffer {
  return Buffer.from(Status.encode(Status.fromObject({ code, message })).finish());
}

/** The request types, for a gRPC service definition. */
export function otlpTypes(signal: OtlpSignal): { request: protobuf.Type; response: protobuf.Type } {
  return { request: REQUEST[signal], response: RESPONSE[signal] };
}

/** Rewrites base64 `traceId` / `spanId` values to OTLP JSON's hex, in place, at any depth. */
function hexIds(value: unknown): unknown {
  if (Array.isArray(value)) {
    for (const item of value) hexIds(item);
  } else if (value !== null && typeof value === 'object') {
    const object = value as Record<string, unknown>;
    for (const key of Object.keys(object)) {
      const field = object[key];
      if (HEX_FIELDS.has(key) && typeof field === 'string') object[key] = Buffer.from(field, 'base64').toString('hex');
      else if (key === 'logRecords' || key === 'resourceLogs' || key === 'scopeLogs') hexIds(field);
    }
  }
  return value;
}
