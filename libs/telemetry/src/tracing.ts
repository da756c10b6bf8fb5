import { context, propagation, trace, Context, SpanKind, SpanStatusCode, TextMapGetter, TextMapSetter } from '@opentelemetry/api';

/**
 * Starts the OpenTelemetry SDK when an OTLP endpoint is configured (standard variable
 * OTEL_EXPORTER_OTLP_ENDPOINT); off by default, so a plain start costs nothing.
 * Call it first in main.ts, before Nest, http or pg are loaded, so their instrumentation applies.
 */
export function startTelemetry(serviceName: string, otlpEndpoint: string | undefined): { shutdown(): Promise<void> } {
  if (!otlpEndpoint) return { shutdown: async () => undefined };
  // Loaded lazily: the SDK and its instrumentations are heavy and unused when tracing is off.
  /* eslint-disable @typescript-eslint/no-require-imports */
  const { NodeSDK } = require('@opentelemetry/sdk-node') as typeof import('@opentelemetry/sdk-node');
  const { OTLPTraceExporter } = require('@opentelemetry/exporter-trace-otlp-http') as typeof import('@opentelemetry/exporter-trace-otlp-http');
  const { HttpInstrumentation } = require('@opentelemetry/instrumentation-http') as typeof import('@opentelemetry/instrumentation-http');
  const { PgInstrumentation } = require('@opentelemetry/instrumentation-pg') as typeof import('@opentelemetry/instrumentation-pg');
  const { NestInstrumentation } = require('@opentelemetry/instrumentation-nestjs-core') as typeof import('@opentelemetry/instrumentation-nestjs-core');
  const { resourceFromAttributes } = require('@opentelemetry/resources') as typeof import('@opentelemetry/resources');
  /* eslint-enable @typescript-eslint/no-require-imports */
  const sdk = new NodeSDK({
    resource: resourceFromAttributes({ 'service.name': `fleetcast-${serviceName}` }),
    traceExporter: new OTLPTraceExporter({ url: `${otlpEndpoint.replace(/\/$/, '')}/v1/traces` }),
    instrumentations: [new HttpInstrumentation(), new PgInstrumentation(), new NestInstrumentation()],
  });
  sdk.start();
  return { shutdown: () => sdk.shutdown() };
}

/** The minimal header surface of a NATS message (nats.js MsgHdrs satisfies it). */
export interface HeaderCarrier {
  get(key: string): string;
  set(key: string, value: string): void;
  keys(): string[];
}

const setter: TextMapSetter<HeaderCarrier> = { set: (carrier, key, value) => carrier.set(key, value) };
const getter: TextMapGetter<HeaderCarrier> = {
  get: (carrier, key) => carrier.get(key) || undefined,
  keys: (carrier) => carrier.keys(),
};

/** Writes the active trace context (W3C traceparent) into message headers. */
export function injectTraceContext(headers: HeaderCarrier, ctx: Context = context.active()): void {
  propagation.inject(ctx, headers, setter);
}

/** Reads a trace context from message headers (or returns the active one when there is none). */
export function extractTraceContext(headers: HeaderCarrier | undefined): Context {
  return headers ? propagation.extract(context.active(), headers, getter) : context.active();
}

const tracer = () => trace.getTracer('fleetcast');

/**
 * Runs `fn` in a span whose parent is the context carried by `headers` (a consumer or RPC handler),
 * so a trace continues from the HTTP request through NATS into the service and its database calls.
 */
export async function withSpan<T>(
  name: string,
  options: { headers?: HeaderCarrier; kind?: SpanKind; attributes?: Record<string, string | number> },
  fn: () => Promise<T>,
): Promise<T> {
  const parent = options.headers ? extractTraceContext(options.headers) : context.active();
  const span = tracer().startSpan(name, { kind: options.kind ?? SpanKind.INTERNAL, attributes: options.attributes }, parent);
  try {
    return await context.with(trace.setSpan(parent, span), fn);
  } catch (error) {
    span.recordException(error as Error);
    span.setStatus({ code: SpanStatusCode.ERROR, message: (error as Error).message });
    throw error;
  } finally {
    span.end();
  }
}

export { SpanKind };
