import type { TestContext } from 'node:test';
import { NatsConnection, StringCodec } from 'nats';
import type { RpcReply } from '@fleetcast/contracts';

const sc = StringCodec();

/** What a stand-in heard, and how to stop it before the test ends. */
export interface StandIn {
  calls: Array<Record<string, unknown>>;
  stop(): void;
}

/**
 * A NATS responder on one subject, standing in for the service that serves it: it records every
 * request the gateway sends and answers with `answer`; stopped after the test.
 */
export async function standIn(nc: NatsConnection, t: TestContext, subject: string, answer: (request: Record<string, unknown>) => RpcReply): Promise<StandIn> {
  const calls: Array<Record<string, unknown>> = [];
  const sub = nc.subscribe(subject, {
    callback: (error, msg) => {
      if (error) return;
      const req = JSON.parse(sc.decode(msg.data)) as Record<string, unknown>;
      calls.push(req);
      msg.respond(sc.encode(JSON.stringify(answer(req))));
    },
  });
  // The server must know the subscription before the gateway asks, or the gateway sees no responders.
  await nc.flush();
  const stop = () => sub.unsubscribe();
  t.after(stop);
  return { calls, stop };
}
