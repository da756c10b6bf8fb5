import { Controller, Get, Inject, Param, Query, Req, Res } from '@nestjs/common';
import { ApiBearerAuth, ApiOperation, ApiProduces, ApiResponse, ApiTags } from '@nestjs/swagger';
import type { Request, Response } from 'express';
import { z } from 'zod';
import { ErrorCode, FleetcastError, idSchema, TasksRpc } from '@fleetcast/contracts';
import { RpcClient } from '@fleetcast/nats';
import { LOGGER } from '@fleetcast/service-kit';
import type { Logger } from '@fleetcast/telemetry';
import { EVENT_STREAM_TOKEN_COOKIE, EVENT_STREAM_TOKEN_PARAMETER } from '../auth/api-tokens';
import { ApiContractQuery, ApiErrorResponses, ApiIdParam } from '../common/openapi.decorators';
import { ZodValidationPipe } from '../common/zod-validation.pipe';
import { GATEWAY_CONFIG, GatewayConfig } from '../config/gateway.config';
import { LiveEventsService } from './live-events.service';
import { SseClient } from './sse-client';

const tokenParameter = z
  .string()
  .max(512)
  .optional()
  .describe(`The API token, for clients that cannot send an Authorization header (a browser's EventSource); the ${EVENT_STREAM_TOKEN_COOKIE} cookie works too. Only on the event stream routes.`);
const eventsQuery = z.object({ taskId: idSchema.optional().describe("Only this task's events (404 when there is no such task)"), [EVENT_STREAM_TOKEN_PARAMETER]: tokenParameter });
const taskEventsQuery = z.object({ [EVENT_STREAM_TOKEN_PARAMETER]: tokenParameter });

const STREAM_DESCRIPTION = [
  'A `text/event-stream` (server-sent events) of live task updates from the tasks service, until the client disconnects.',
  'Events: `snapshot` (first, with a task filter: the task with its summary, as `GET /v1/tasks/{id}`), `task` (status, counts per state and bytes per source of a task that changed),',
  '`device` (one target changed: state, previous state, reason, bytes by source), `heartbeat` (every 15 s by default), and `resync` (updates were dropped while the client was slow: read the task again).',
  'Each `data` is one line of JSON; each event has an `id`. Updates are not replayed: a client that reconnects reads the task again (the `snapshot` does it).',
  'Authentication as the rest of the API (read-only scope); since a browser EventSource cannot set headers, the token may also come as the `access_token` query parameter or the `fleetcast_token` cookie on these routes only.',
].join(' ');

/** Live updates of tasks as server-sent events (`GET /v1/events`, `GET /v1/tasks/{id}/events`). */
@ApiTags('events')
@ApiBearerAuth()
@Controller('v1')
export class EventsHttpController {
  private readonly heartbeatMs: number;
  private readonly maxClients: number;

  constructor(
    @Inject(GATEWAY_CONFIG) config: GatewayConfig,
    @Inject(LOGGER) private readonly logger: Logger,
    private readonly events: LiveEventsService,
    private readonly rpc: RpcClient,
  ) {
    this.heartbeatMs = config.events?.heartbeatMs ?? 15_000;
    this.maxClients = config.events?.maxClients ?? 500;
  }

  @Get('events')
  @ApiOperation({ summary: 'Live task and device updates (server-sent events), for every task or one', description: STREAM_DESCRIPTION })
  @ApiContractQuery(eventsQuery)
  @ApiProduces('text/event-stream')
  @ApiResponse({ status: 200, description: 'The event stream (text/event-stream), open until the client disconnects.' })
  @ApiErrorResponses(400, 401, 404, 503)
  async all(@Query(new ZodValidationPipe(eventsQuery)) query: z.output<typeof eventsQuery>, @Req() req: Request, @Res() res: Response): Promise<void> {
    await this.stream(query.taskId, req, res);
  }

  @Get('tasks/:id/events')
  @ApiOperation({ summary: "Live updates of one task (server-sent events): the same as GET /v1/events?taskId={id}", description: STREAM_DESCRIPTION })
  @ApiIdParam()
  @ApiContractQuery(taskEventsQuery)
  @ApiProduces('text/event-stream')
  @ApiResponse({ status: 200, description: 'The event stream (text/event-stream), open until the client disconnects.' })
  @ApiErrorResponses(400, 401, 404, 503)
  async task(@Param('id', new ZodValidationPipe(idSchema)) id: string, @Query(new ZodValidationPipe(taskEventsQuery)) _query: unknown, @Req() req: Request, @Res() res: Response): Promise<void> {
    await this.stream(id, req, res);
  }

  /**
   * Checks what can still be answered with an error (the task exists, room for another stream),
   * then subscribes before the snapshot is read, so that no change falls between the two.
   */
  private async stream(taskId: string | undefined, req: Request, res: Response): Promise<void> {
    if (this.events.streams >= this.maxClients) {
      throw new FleetcastError(ErrorCode.Unavailable, `the gateway holds ${this.maxClients} event streams already (EVENTS_MAX_CLIENTS): try again later`);
    }
    const client = new SseClient(res);
    const pending: Parameters<SseClient['send']>[0][] = [];
    let started = false;
    const unsubscribe = this.events.subscribe(taskId, (event) => {
      const item =
        event.kind === 'task'
          ? { key: `task:${event.data.taskId}`, event: 'task', data: event.data }
          : { key: `device:${event.data.taskId}/${event.data.deviceId}`, event: 'device', data: event.data };
      if (started) client.send(item);
      else pending.push(item);
    });
    let snapshot: unknown = null;
    try {
      // The server holds the subscriptions before the stream starts: a change published from
      // then on reaches this client, with or without a snapshot to read first.
      await this.events.subscribed();
      if (taskId !== undefined) snapshot = await this.rpc.call(TasksRpc.getTask, { id: taskId });
    } catch (error) {
      unsubscribe();
      throw error;
    }
    if (req.destroyed || res.destroyed) return unsubscribe();

    res.writeHead(200, {
      'Content-Type': 'text/event-stream; charset=utf-8',
      'Cache-Control': 'no-cache, no-transform',
      Connection: 'keep-alive',
      // Reverse proxies (nginx) would otherwise buffer the stream and deliver it late.
      'X-Accel-Buffering': 'no',
    });
    // How long an EventSource waits before it reconnects after the stream ends.
    res.write('retry: 3000\n\n');
    started = true;
    if (snapshot !== null) client.send({ key: `snapshot:${taskId}`, event: 'snapshot', data: snapshot });
    for (const item of pending.splice(0)) client.send(item);
    const heartbeat = setInterval(() => client.send({ key: 'heartbeat', event: 'heartbeat', data: { at: new Date().toISOString() } }), this.heartbeatMs);
    this.logger.debug({ taskId: taskId ?? null, streams: this.events.streams }, 'event stream opened');
    res.once('close', () => {
      clearInterval(heartbeat);
      unsubscribe();
      this.logger.debug({ taskId: taskId ?? null, streams: this.events.streams }, 'event stream closed');
    });
  }
}
