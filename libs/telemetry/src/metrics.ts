import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';

/**
 * One Prometheus registry per process: process metrics (resident memory, CPU, event-loop lag) plus
 * whatever the service's modules register. Served at /metrics by each service.
 */
export function createMetricsRegistry(service: string): Registry {
  const registry = new Registry();
  registry.setDefaultLabels({ service });
  collectDefaultMetrics({ register: registry, prefix: 'fleetcast_' });
  return registry;
}

/** Counter/gauge/histogram getters that reuse a metric already registered under the same name. */
export function counter(registry: Registry, name: string, help: string, labelNames: string[] = []): Counter<string> {
  return (registry.getSingleMetric(name) as Counter<string> | undefined) ?? new Counter({ name, help, labelNames, registers: [registry] });
}

export function gauge(registry: Registry, name: string, help: string, labelNames: string[] = []): Gauge<string> {
  return (registry.getSingleMetric(name) as Gauge<string> | undefined) ?? new Gauge({ name, help, labelNames, registers: [registry] });
}

export function histogram(registry: Registry, name: string, help: string, labelNames: string[] = [], buckets?: number[]): Histogram<string> {
  return (
    (registry.getSingleMetric(name) as Histogram<string> | undefined) ??
    new Histogram({ name, help, labelNames, registers: [registry], ...(buckets ? { buckets } : {}) })
  );
}

export type { Registry, Counter, Gauge, Histogram };
