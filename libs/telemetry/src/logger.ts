import pino, { Logger } from 'pino';
import { trace } from '@opentelemetry/api';

export type { Logger };

/**
 * Structured JSON logs (one object per line), with the trace and span IDs of the active span so a
 * log line can be found from a trace and back. Level from the caller's validated config.
 */
export function createLogger(name: string, level = 'info'): Logger {
  return pino({
    name,
    level,
    base: { service: name },
    timestamp: pino.stdTimeFunctions.isoTime,
    mixin() {
      const span = trace.getActiveSpan();
      if (!span) return {};
      const { traceId, spanId } = span.spanContext();
      return { traceId, spanId };
    },
  });
}
