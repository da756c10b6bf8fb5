import { ServerResponse } from 'node:http';
import { Readable } from 'node:stream';

export type PumpOutcome = 'complete' | 'client-gone';

function drainOrClose(res: ServerResponse): Promise<void> {
  return new Promise((resolve) => {
    const done = (): void => {
      res.off('drain', done);
      res.off('close', done);
      resolve();
    };
    res.on('drain', done);
    res.on('close', done);
  });
}

/**
 * Streams `source` into a response whose headers are set, with backpressure, and calls `onFlushed`
 * with each chunk's length once the chunk has reached the socket: a response's write callback fires
 * when the socket has handed the bytes to the kernel, and never for bytes of a connection that died
 * first. A client that disconnects mid-way is therefore counted for what it was sent, not for what
 * was read from disk. Read errors destroy the response (its headers are out, so a status can no
 * longer tell the client) and are rethrown.
 */
export async function pumpToResponse(source: Readable, res: ServerResponse, onFlushed: (bytes: number) => void): Promise<PumpOutcome> {
  try {
    for await (const chunk of source as AsyncIterable<Buffer>) {
      if (res.destroyed) return 'client-gone';
      const length = chunk.length;
      const more = res.write(chunk, (error) => {
        if (!error) onFlushed(length);
      });
      if (!more) await drainOrClose(res);
    }
    if (res.destroyed) return 'client-gone';
    res.end();
    return 'complete';
  } catch (error) {
    res.destroy();
    throw error;
  } finally {
    source.destroy();
  }
}
