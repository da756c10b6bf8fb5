import { Controller } from '@nestjs/common';
import { Ctx, MessagePattern, NatsContext, Payload } from '@nestjs/microservices';
import { TasksDeviceRpc, TasksRpc } from '@fleetcast/contracts';
import { handleDeviceRpc, handleRpc } from '@fleetcast/service-kit';
import { TasksService } from './tasks.service';

@Controller()
export class TasksNatsController {
  constructor(private readonly tasks: TasksService) {}

  @MessagePattern(TasksRpc.createTask.subject)
  create(@Payload() payload: unknown) {
    return handleRpc(TasksRpc.createTask, payload, (req) => this.tasks.create(req));
  }

  @MessagePattern(TasksRpc.getTask.subject)
  get(@Payload() payload: unknown) {
    return handleRpc(TasksRpc.getTask, payload, (req) => this.tasks.get(req.id));
  }

  @MessagePattern(TasksRpc.listTasks.subject)
  list(@Payload() payload: unknown) {
    return handleRpc(TasksRpc.listTasks, payload, (req) => this.tasks.list(req));
  }

  @MessagePattern(TasksRpc.listTaskDevices.subject)
  devices(@Payload() payload: unknown) {
    return handleRpc(TasksRpc.listTaskDevices, payload, (req) => this.tasks.devices(req.id, req.state, req.limit, req.offset));
  }

  @MessagePattern(TasksRpc.getLanSession.subject)
  lanSession(@Payload() payload: unknown) {
    return handleRpc(TasksRpc.getLanSession, payload, (req) => this.tasks.lanSession(req.taskId, req.deviceId));
  }

  /** A device asks for its own LAN session: the key is given only to a target of the task. */
  @MessagePattern(TasksDeviceRpc.getLanSession.subject)
  deviceLanSession(@Payload() payload: unknown, @Ctx() ctx: NatsContext) {
    return handleDeviceRpc(TasksDeviceRpc.getLanSession, ctx.getSubject(), payload, (req, deviceId) => this.tasks.lanSession(req.taskId, deviceId, req.claimKey));
  }

  @MessagePattern(TasksRpc.getDeviceHistory.subject)
  deviceHistory(@Payload() payload: unknown) {
    return handleRpc(TasksRpc.getDeviceHistory, payload, (req) => this.tasks.deviceHistory(req.id, req.deviceId));
  }

  @MessagePattern(TasksRpc.cancelTask.subject)
  cancel(@Payload() payload: unknown) {
    return handleRpc(TasksRpc.cancelTask, payload, (req) => this.tasks.cancel(req.id));
  }

  @MessagePattern(TasksRpc.retryTask.subject)
  retry(@Payload() payload: unknown) {
    return handleRpc(TasksRpc.retryTask, payload, (req) => this.tasks.retry(req.id, req.deviceIds));
  }

  @MessagePattern(TasksRpc.getTaskSummary.subject)
  summary(@Payload() payload: unknown) {
    return handleRpc(TasksRpc.getTaskSummary, payload, (req) => this.tasks.summary(req.id));
  }
}
