import { Inject, Injectable, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import { Subscription } from 'nats';
import { allRpcSubjects, RpcReply, Streams, unservedRequestError } from '@fleetcast/contracts';
import { encodeJson, NatsConnection } from '@fleetcast/nats';
import type { Logger } from '@fleetcast/telemetry';
import { LOGGER, NATS_CONNECTION, PLATFORM_OPTIONS } from './tokens';
import type { PlatformOptions } from './platform.module';

/** NATS subject matching with `*` (one token) and `>` (the rest). */
export function subjectMatches(filter: string, subject: string): boolean {
  const f = filter.split('.');
  const s = subject.split('.');
  for (let i = 0; i < f.length; i++) {
    if (f[i] === '>') return s.length > i;
    if (i >= s.length || (f[i] !== '*' && f[i] !== s[i])) return false;
  }
  return f.length === s.length;
}

/**
 * Answers requests on the service's domain that no handler serves (another version, a typo) with a
 * clear error instead of leaving the caller to time out. Subjects that a stream captures are left
 * alone: a JetStream publish carries a reply inbox for the stream's acknowledgement.
 */
@Injectable()
export class UnservedSubjectResponder implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly subscriptions: Subscription[] = [];

  constructor(
    @Inject(PLATFORM_OPTIONS) private readonly options: PlatformOptions,
    @Inject(NATS_CONNECTION) private readonly nc: NatsConnection,
    @Inject(LOGGER) private readonly logger: Logger,
  ) {}

  onApplicationBootstrap(): void {
    const domain = this.options.rpcDomain;
    if (!domain) return;
    const served = allRpcSubjects();
    const captured = Object.values(Streams).flatMap((s) => s.subjects);
    for (const kind of ['cmd', 'qry']) {
      this.subscriptions.push(
        this.nc.subscribe(`${domain}.${kind}.>`, {
          queue: `${domain}-unserved`,
          callback: (err, msg) => {
            if (err || !msg.reply || served.some((f) => subjectMatches(f, msg.subject)) || captured.some((f) => subjectMatches(f, msg.subject))) return;
            const error = unservedRequestError(msg.subject, served);
            this.logger.warn({ subject: msg.subject, code: error.code }, 'request on an unserved subject');
            msg.respond(encodeJson({ ok: false, error } satisfies RpcReply));
          },
        }),
      );
    }
  }

  onApplicationShutdown(): void {
    for (const s of this.subscriptions) s.unsubscribe();
  }
}
