import type { tracing } from '@opentelemetry/sdk-node';

export type RecordedSpan = tracing.ReadableSpan;

/**
 * For tests of code that creates or continues spans: registers a tracer provider that keeps finished
 * spans in memory, with the same context manager (async hooks) and propagator (W3C traceparent) as
 * `startTelemetry`, so that what a test sees is what a service would export.
 */
export function recordSpansInMemory(): { spans(): RecordedSpan[]; stop(): Promise<void> } {
  // Loaded lazily, like the SDK in startTelemetry: production code never needs it.
  /* eslint-disable @typescript-eslint/no-require-imports */
  const { node, tracing: sdk, api } = require('@opentelemetry/sdk-node') as typeof import('@opentelemetry/sdk-node');
  /* eslint-enable @typescript-eslint/no-require-imports */
  const exporter = new sdk.InMemorySpanExporter();
  const provider = new node.NodeTracerProvider({ spanProcessors: [new sdk.SimpleSpanProcessor(exporter)] });
  provider.register();
  return {
    spans: () => exporter.getFinishedSpans(),
    async stop() {
      await provider.shutdown();
      api.trace.disable();
      api.context.disable();
      api.propagation.disable();
    },
  };
}
