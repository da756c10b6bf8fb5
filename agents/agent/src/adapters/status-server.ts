import { createServer, Server } from 'node:http';
import { AddressInfo } from 'node:net';
import type { Registry } from '@fleetcast/telemetry';

/**
 * The agent's local window for people and scrapers: `/metrics` (Prometheus), `/status` (JSON of the
 * device's tasks) and `/healthz`. Bound to loopback by default: it shows what a device is doing, so
 * it is not offered to the network unless the operator says so.
 */
export async function startStatusServer(options: {
  port: number;
  host: string;
  registry: Registry;
  status: () => Promise<unknown>;
}): Promise<{ port: number; close(): Promise<void> }> {
  const server: Server = createServer((req, res) => {
    const send = (code: number, type: string, body: string) => {
      res.writeHead(code, { 'content-type': type });
      res.end(body);
    };
    const route = (req.url ?? '/').split('?')[0];
    if (req.method !== 'GET') return send(405, 'application/json', JSON.stringify({ code: 'COMMON.METHOD_NOT_ALLOWED', message: 'GET only' }));
    if (route === '/healthz') return send(200, 'application/json', JSON.stringify({ status: 'ok', service: 'agent' }));
    if (route === '/metrics') {
      void options.registry.metrics().then((text) => send(200, options.registry.contentType, text));
      return;
    }
    if (route === '/status') {
      void options.status().then(
        (s) => send(200, 'application/json', JSON.stringify(s, null, 2)),
        (e: Error) => send(500, 'application/json', JSON.stringify({ code: 'COMMON.INTERNAL', message: e.message })),
      );
      return;
    }
    send(404, 'application/json', JSON.stringify({ code: 'COMMON.NOT_FOUND', message: `no route ${route}` }));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => resolve());
  });
  return {
    port: (server.address() as AddressInfo).port,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
