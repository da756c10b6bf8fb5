import { CallHandler, ExecutionContext, Injectable, NestInterceptor } from '@nestjs/common';
import { NatsContext } from '@nestjs/microservices';
import { Observable } from 'rxjs';
import { HeaderCarrier, runInContext, SpanKind, startSpan } from '@fleetcast/telemetry';

/**
 * Continues the caller's trace in a NATS request handler. The caller's RpcClient puts a W3C
 * traceparent in the request headers, but Nest's NATS transport only hands them over in the
 * NatsContext and runs the handler outside any span: without this interceptor every handler (and
 * its database calls) would start a trace of its own.
 */
@Injectable()
export class RpcTraceInterceptor implements NestInterceptor {
  intercept(context: ExecutionContext, next: CallHandler): Observable<unknown> {
    if (context.getType() !== 'rpc') return next.handle();
    const nats = context.switchToRpc().getContext<NatsContext>();
    const subject = nats.getSubject();
    return new Observable((subscriber) => {
      // Started on subscription, so that a pipeline nobody subscribes to leaves no span open.
      const span = startSpan(subject, {
        headers: nats.getHeaders() as HeaderCarrier | undefined,
        kind: SpanKind.SERVER,
        attributes: { 'messaging.system': 'nats', 'messaging.destination.name': subject, 'messaging.operation.type': 'process' },
      });
      // Nest binds the handler's async context when handle() is called and runs it when the result
      // is subscribed; doing both inside the span's context makes the span the parent of whatever
      // the handler does, whether it returns a Promise or an Observable.
      const subscription = runInContext(span.context, () =>
        next.handle().subscribe({
          next: (value) => subscriber.next(value),
          error: (error: unknown) => {
            span.end(error);
            subscriber.error(error);
          },
          complete: () => {
            span.end();
            subscriber.complete();
          },
        }),
      );
      return () => {
        subscription.unsubscribe();
        span.end();
      };
    });
  }
}
