import { Body, Controller, Get, Param, Post, Query } from '@nestjs/common';
import { ApiBearerAuth, ApiOperation, ApiTags } from '@nestjs/swagger';
import { z } from 'zod';
import { idSchema, taskSchema, taskSummarySchema, TasksRpc } from '@fleetcast/contracts';
import { RpcClient } from '@fleetcast/nats';
import { ApiContractBody, ApiContractQuery, ApiContractResponse, ApiErrorResponses, ApiIdParam } from '../common/openapi.decorators';
import { ZodValidationPipe } from '../common/zod-validation.pipe';

const createTaskBody = TasksRpc.createTask.request;
const listTasksQuery = TasksRpc.listTasks.request;
/** The task's ID comes from the path; the rest of the contract's request from the query string. */
const listTaskDevicesQuery = TasksRpc.listTaskDevices.request.omit({ id: true });

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

  @Get(':id/summary')
  @ApiOperation({ summary: "A task's counts per state and bytes per source, overall and per subnet" })
  @ApiIdParam()
  @ApiContractResponse(taskSummarySchema)
  @ApiErrorResponses(400, 401, 404, 503)
  summary(@Param('id', new ZodValidationPipe(idSchema)) id: string) {
    return this.rpc.call(TasksRpc.getTaskSummary, { id });
  }
}
