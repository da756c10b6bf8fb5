import { createServer, Server, Socket, connect as tcpConnect } from 'node:net';
import { track } from './cleanup-registry';
import { freePort } from './free-port';

/**
 * A TCP relay on 127.0.0.1 in front of a target: a WAN link that a test can cut (every connection
 * through it reset, new ones refused) and restore.
 */
export interface TcpRelay {
  /** The relay's own port: connect here instead of to the target. */
  readonly port: number;
  /** Whether the link is up. */
  readonly up: boolean;
  /** Resets every connection through the relay and refuses new ones until `restore`. */
  cut(): void;
  restore(): void;
  close(): Promise<void>;
}

export async function startTcpRelay(target: { host?: string; port: number }): Promise<TcpRelay> {
  const port = await freePort();
  const sockets = new Set<Socket>();
  let up = true;
  const server: Server = createServer((client) => {
    if (!up) {
      client.resetAndDestroy();
      return;
    }
    const upstream = tcpConnect({ host: target.host ?? '127.0.0.1', port: target.port });
    sockets.add(client);
    sockets.add(upstream);
    const drop = (): void => {
      client.destroy();
      upstream.destroy();
      sockets.delete(client);
      sockets.delete(upstream);
    };
    client.on('error', drop).on('close', drop);
    upstream.on('error', drop).on('close', drop);
    client.pipe(upstream).pipe(client);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve());
  });
  const resetAll = (): void => {
    for (const s of sockets) s.resetAndDestroy();
    sockets.clear();
  };
  let closed = false;
  const relay: TcpRelay = {
    port,
    get up() {
      return up;
    },
    cut() {
      up = false;
      resetAll();
    },
    restore() {
      up = true;
    },
    async close() {
      if (closed) return;
      closed = true;
      resetAll();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      untrack();
    },
  };
  const untrack = track({ stop: () => relay.close(), killNow: () => resetAll() });
  return relay;
}
