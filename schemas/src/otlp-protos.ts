import { fileURLToPath } from 'node:url';

/** The folder holding the official OTLP `.proto` files (`opentelemetry/proto/...`); see otlp/README.md. */
export const OTLP_PROTO_DIR = fileURLToPath(new URL('../otlp/', import.meta.url));
