/**
 * Server-sent events (WHATWG HTML 9.2) as the gateway's `GET /v1/events` sends them, parsed from
 * text chunks as they arrive: pure, so framing across chunk boundaries is tested without a server.
 * Only what the CLI needs: `event`, `data` (lines joined), `id`; comments and `retry` are skipped.
 */
export interface ServerSentEvent {
  event: string;
  data: string;
  id?: string;
}

export class SseParser {
  private buffer = '';

  /** Events completed by this chunk, in order. */
  push(chunk: string): ServerSentEvent[] {
    this.buffer += chunk.replace(/\r\n?/g, '\n');
    const out: ServerSentEvent[] = [];
    let at: number;
    while ((at = this.buffer.indexOf('\n\n')) >= 0) {
      const frame = this.buffer.slice(0, at);
      this.buffer = this.buffer.slice(at + 2);
      const event = parseFrame(frame);
      if (event) out.push(event);
    }
    return out;
  }
}

function parseFrame(frame: string): ServerSentEvent | null {
  let event = 'message';
  let id: string | undefined;
  const data: string[] = [];
  for (const line of frame.split('\n')) {
    if (line === '' || line.startsWith(':')) continue;
    const colon = line.indexOf(':');
    const field = colon < 0 ? line : line.slice(0, colon);
    const value = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '');
    if (field === 'event') event = value;
    else if (field === 'data') data.push(value);
    else if (field === 'id') id = value;
  }
  if (data.length === 0) return null;
  return { event, data: data.join('\n'), ...(id !== undefined ? { id } : {}) };
}
