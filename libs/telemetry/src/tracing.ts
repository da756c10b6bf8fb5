import {
  context,
  isSpanContextValid,
  propagation,
  ROOT_CONTEXT,
  trace,
  Context,
  SpanContext,
  SpanKind,
  SpanStatusCode,
  TextMapGetter,
  TextMapSetter,
} from '@opentelemetry/api';

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

/** The active trace context as plain headers, for a message stored now and sent later (the agent's spool). */
export function captureTraceContext(ctx: Context = context.active()): Record<string, string> {
  const carrier: Record<string, string> = {};
  injectTraceContext({ get: (k) => carrier[k] ?? '', set: (k, v) => (carrier[k] = v), keys: () => Object.keys(carrier) }, ctx);
  return carrier;
}

export interface SpanOptions {
  /** Headers of the message being handled: the span continues the trace they carry. */
  headers?: HeaderCarrier;
  kind?: SpanKind;
  attributes?: Record<string, string | number>;
  /**
   * Headers of the messages a batch span handles. Each may belong to another trace, so they are
   * linked rather than one of them made the parent (OpenTelemetry's convention for batches).
   */
  links?: HeaderCarrier[];
}

/** A started span and the context to run its work in. */
export interface StartedSpan {
  /** Run the span's work inside this context (`runInContext`) so that child spans and injected headers see it. */
  readonly context: Context;
  /** Ends the span, marked failed when an error is given. Only the first call counts. */
  end(error?: unknown): void;
}

/**
 * Starts a span for work that is not a single Promise (an Observable, a stream); `withSpan` is the
 * simpler form for a Promise. When tracing is off the span is a no-op that still carries the
 * incoming context along.
 */
export function startSpan(name: string, options: SpanOptions = {}): StartedSpan {
  const parent = options.headers ? extractTraceContext(options.headers) : context.active();
  const links = (options.links ?? [])
    .map((headers) => trace.getSpanContext(propagation.extract(ROOT_CONTEXT, headers, getter)))
    .filter((sc): sc is SpanContext => sc !== undefined && isSpanContextValid(sc))
    .map((sc) => ({ context: sc }));
  const span = tracer().startSpan(name, { kind: options.kind ?? SpanKind.INTERNAL, attributes: options.attributes, links }, parent);
  let ended = false;
  return {
    context: trace.setSpan(parent, span),
    end(error?: unknown) {
      if (ended) return;
      ended = true;
      if (error !== undefined) {
        const message = error instanceof Error ? error.message : typeof error === 'object' && error && 'message' in error ? String(error.message) : String(error);
        span.recordException(error instanceof Error ? error : { message, name: 'Error' });
        span.setStatus({ code: SpanStatusCode.ERROR, message });
      }
      span.end();
    },
  };
}

/** Runs `fn` with `ctx` as the active context (the context of a span from `startSpan`). */
export function runInContext<T>(ctx: Context, fn: () => T): T {
  return context.with(ctx, fn);
}

/**
 * Runs `fn` in a span whose parent is the context carried by `headers` (a consumer or RPC handler),
 * so a trace continues from the HTTP request through NATS into the service and its database calls.
 */
export async function withSpan<T>(name: string, options: SpanOptions, fn: () => Promise<T>): Promise<T> {
  const span = startSpan(name, options);
  try {
    const result = await context.with(span.context, fn);
    span.end();
    return result;
  } catch (error) {
    span.end(error);
    throw error;
  }
}

export { SpanKind };
