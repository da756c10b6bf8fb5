import { Body, Controller, Get, HttpCode, Param, Post, Query } from '@nestjs/common';
import { ApiBearerAuth, ApiOperation, ApiTags } from '@nestjs/swagger';
import { z } from 'zod';
import { idSchema, retryTaskSchema, taskSchema, taskSummarySchema, TasksRpc } from '@fleetcast/contracts';
import { RpcClient } from '@fleetcast/nats';
import { ApiContractBody, ApiContractQuery, ApiContractResponse, ApiErrorResponses, ApiIdParam } from '../common/openapi.decorators';
import { ZodValidationPipe } from '../common/zod-validation.pipe';

const createTaskBody = TasksRpc.createTask.request;
const listTasksQuery = TasksRpc.listTasks.request;
/** The task's ID comes from the path; the rest of the contract's request from the query string. */
const listTaskDevicesQuery = TasksRpc.listTaskDevices.request.omit({ id: true });
/** A retry's body may be left out altogether: every failed device. */
const retryBody = z.preprocess((body) => body ?? {}, retryTaskSchema);

@ApiTags('tasks')
@ApiBearerAuth()
@Controller('v1/tasks')
export class TasksHttpController {
  constructor(private readonly rpc: RpcClient) {}

  @Post()
  @ApiOperation({ summary: 'Create a task: distribute a package to devices (by ID or by inventory query)' })
  @ApiContractBody(createTaskBody)
  @ApiContractResponse(taskSchema, 201, 'Created')
  @ApiErrorResponses(400, 401, 404, 409, 503)
  create(@Body(new ZodValidationPipe(createTaskBody)) body: z.output<typeof createTaskBody>) {
    return this.rpc.call(TasksRpc.createTask, body);
  }

  @Get()
  @ApiOperation({ summary: 'List tasks' })
  @ApiContractQuery(listTasksQuery)
  @ApiContractResponse(TasksRpc.listTasks.response)
  @ApiErrorResponses(400, 401, 503)
  list(@Query(new ZodValidationPipe(listTasksQuery)) query: z.output<typeof listTasksQuery>) {
    return this.rpc.call(TasksRpc.listTasks, query);
  }

  @Get(':id')
  @ApiOperation({ summary: 'Get a task with its summary' })
  @ApiIdParam()
  @ApiContractResponse(taskSchema)
  @ApiErrorResponses(400, 401, 404, 503)
  get(@Param('id', new ZodValidationPipe(idSchema)) id: string) {
    return this.rpc.call(TasksRpc.getTask, { id });
  }

  @Get(':id/devices')
  @ApiOperation({ summary: "A task's per-device status, optionally in one state" })
  @ApiIdParam()
  @ApiContractQuery(listTaskDevicesQuery)
  @ApiContractResponse(TasksRpc.listTaskDevices.response)
  @ApiErrorResponses(400, 401, 404, 503)
  devices(
    @Param('id', new ZodValidationPipe(idSchema)) id: string,
    @Query(new ZodValidationPipe(listTaskDevicesQuery)) query: z.output<typeof listTaskDevicesQuery>,
  ) {
    return this.rpc.call(TasksRpc.listTaskDevices, { ...query, id });
  }

  @Get(':id/devices/:deviceId/history')
  @ApiOperation({ summary: "How a device got where it is in a task: pending at creation, then each change of state or reason" })
  @ApiIdParam()
  @ApiIdParam('deviceId')
  @ApiContractResponse(TasksRpc.getDeviceHistory.response)
  @ApiErrorResponses(400, 401, 404, 503)
  deviceHistory(@Param('id', new ZodValidationPipe(idSchema)) id: string, @Param('deviceId', new ZodValidationPipe(idSchema)) deviceId: string) {
    return this.rpc.call(TasksRpc.getDeviceHistory, { id, deviceId });
  }

  @Post(':id/cancel')
  @HttpCode(200)
  @ApiOperation({
    summary: 'Cancel a task: its unfinished devices stop (download, LAN session, pending install) and remove partial downloads',
    description:
      'The task and every device not yet succeeded or failed become `cancelled` at once; each device that was sent the task gets a cancellation signed by the control plane, which its agent verifies against its pinned keys before it stops (at once, or when it comes back online), then reports `cancelled`. An install already running is not interrupted: its outcome is reported. 409 TASKS.TASK_FINISHED when the task is already completed or cancelled.',
  })
  @ApiIdParam()
  @ApiContractResponse(taskSchema)
  @ApiErrorResponses(400, 401, 403, 404, 409, 503)
  cancel(@Param('id', new ZodValidationPipe(idSchema)) id: string) {
    return this.rpc.call(TasksRpc.cancelTask, { id });
  }

  @Post(':id/retry')
  @HttpCode(200)
  @ApiOperation({
    summary: 'Retry the failed devices of a task (all of them, or those listed)',
    description:
      'Each device goes back to `pending` with a new attempt and is sent a new signed assignment; its history records the retry. 404 for a listed device that is not a target, 409 TASKS.NOTHING_TO_RETRY when none (or not every listed one) failed, 409 TASKS.TASK_CANCELLED for a cancelled task.',
  })
  @ApiIdParam()
  @ApiContractBody(retryTaskSchema)
  @ApiContractResponse(TasksRpc.retryTask.response)
  @ApiErrorResponses(400, 401, 403, 404, 409, 503)
  retry(@Param('id', new ZodValidationPipe(idSchema)) id: string, @Body(new ZodValidationPipe(retryBody)) body: z.output<typeof retryTaskSchema>) {
    return this.rpc.call(TasksRpc.retryTask, { ...body, id });
  }

  @Get(':id/summary')
  @ApiOperation({ summary: "A task's counts per state and bytes per source, overall and per subnet" })
  @ApiIdParam()
  @ApiContractResponse(taskSummarySchema)
  @ApiErrorResponses(400, 401, 404, 503)
  summary(@Param('id', new ZodValidationPipe(idSchema)) id: string) {
    return this.rpc.call(TasksRpc.getTaskSummary, { id });
  }
}
