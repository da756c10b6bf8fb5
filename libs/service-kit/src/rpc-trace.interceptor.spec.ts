import { after, before, beforeEach, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { InterceptorsConsumer } from '@nestjs/core/interceptors/interceptors-consumer';
import { NatsContext } from '@nestjs/microservices';
import { headers as natsHeaders } from 'nats';
import { defer, from, lastValueFrom, Observable } from 'rxjs';
import { ErrorCode, FleetcastError } from '@fleetcast/contracts';
import { injectTraceContext, recordSpansInMemory, RecordedSpan, SpanKind, startSpan, withSpan } from '@fleetcast/telemetry';
import { RpcTraceInterceptor } from './rpc-trace.interceptor';

const SUBJECT = 'tasks.cmd.package.create.v1';

let recorder: ReturnType<typeof recordSpansInMemory>;
let seen = 0;
const newSpans = (): RecordedSpan[] => {
  const all = recorder.spans();
  const fresh = all.slice(seen);
  seen = all.length;
  return fresh;
};
const named = (spans: RecordedSpan[], name: string) => {
  const span = spans.find((s) => s.name === name);
  assert.ok(span, `a span named ${name} among ${spans.map((s) => s.name).join(', ')}`);
  return span;
};

/** Headers as a caller's RpcClient sends them: the traceparent of a span of the caller. */
function callerHeaders() {
  const caller = startSpan('caller', { kind: SpanKind.CLIENT });
  const h = natsHeaders();
  injectTraceContext(h, caller.context);
  caller.end();
  return h;
}

/** Runs `handler` through Nest's own interceptor pipeline, as its RPC context creator does. */
function invoke(handler: () => unknown, headers = callerHeaders()): Promise<unknown> {
  const ctx = new NatsContext([SUBJECT, headers]);
  const callback = () => handler();
  const result = new InterceptorsConsumer().intercept([new RpcTraceInterceptor()], [{}, ctx], {}, callback, async () => callback(), 'rpc');
  return result.then((o) => lastValueFrom(o as Observable<unknown>));
}

describe('RPC trace interceptor', () => {
  before(() => {
    recorder = recordSpansInMemory();
  });
  after(() => recorder.stop());
  beforeEach(() => void newSpans());

  test('a handler returning a Promise runs in a server span that continues the caller trace', async () => {
    const reply = await invoke(() => withSpan('work', {}, async () => 'done'));
    assert.equal(reply, 'done');
    const spans = newSpans();
    const caller = named(spans, 'caller');
    const server = named(spans, SUBJECT);
    const work = named(spans, 'work');
    assert.equal(server.kind, SpanKind.SERVER);
    assert.equal(server.spanContext().traceId, caller.spanContext().traceId);
    assert.equal(server.parentSpanContext?.spanId, caller.spanContext().spanId);
    assert.equal(work.parentSpanContext?.spanId, server.spanContext().spanId, 'the handler work is a child of the server span');
    assert.equal(server.attributes['messaging.destination.name'], SUBJECT);
  });

  test('a handler returning an Observable runs in the server span too, which ends when it completes', async () => {
    const reply = await invoke(() => defer(() => from(withSpan('work', {}, async () => 'observed'))));
    assert.equal(reply, 'observed');
    const spans = newSpans();
    const server = named(spans, SUBJECT);
    assert.equal(named(spans, 'work').parentSpanContext?.spanId, server.spanContext().spanId);
    assert.equal(server.parentSpanContext?.spanId, named(spans, 'caller').spanContext().spanId);
  });

  test('a failing handler marks the server span failed and its error still reaches Nest', async () => {
    await assert.rejects(
      invoke(async () => {
        throw new FleetcastError(ErrorCode.PackageNotFound, 'package x not found');
      }),
      (error: unknown) => error instanceof FleetcastError && error.code === ErrorCode.PackageNotFound,
    );
    const server = named(newSpans(), SUBJECT);
    assert.equal(server.status.code, 2 /* SpanStatusCode.ERROR */);
    assert.equal(server.status.message, 'package x not found');
  });

  test('a request without trace headers starts a trace of its own', async () => {
    await invoke(async () => 'ok', natsHeaders());
    const server = named(newSpans(), SUBJECT);
    assert.equal(server.parentSpanContext, undefined);
  });
});
