import type { Activation, Device, WebhookSubscription } from '@fleetcast/contracts';
import { formatActivation, formatDeviceList, formatSubnetList, formatWebhookList } from '../output/format';
import { CliContext } from './cli-context';
import { PageOptions, pageQuery, PLATFORMS } from './requests';
import { UsageError } from '../errors';

export interface DeviceListOptions extends PageOptions {
  platform?: string;
  subnet?: string;
  stale?: boolean;
  unsupported?: boolean;
}

export async function listDevices(ctx: CliContext, options: DeviceListOptions): Promise<number> {
  if (options.platform && !(PLATFORMS as readonly string[]).includes(options.platform)) throw new UsageError(`--platform must be one of ${PLATFORMS.join(', ')}`);
  const query = {
    ...pageQuery(options),
    platform: options.platform,
    subnet: options.subnet,
    stale: options.stale,
    versionState: options.unsupported ? 'unsupported-version' : undefined,
  };
  const list = await (await ctx.api()).get<{ items: Device[]; total: number }>('/v1/devices', query);
  ctx.result(list, () => formatDeviceList(list, options.offset));
  return 0;
}

export async function listSubnets(ctx: CliContext, options: PageOptions = {}): Promise<number> {
  const list = await (await ctx.api()).get<{ items: Array<{ cidr: string; family: string; deviceCount: number; staleCount: number }>; total?: number }>('/v1/subnets', pageQuery(options));
  ctx.result(list, () => formatSubnetList(list, options.offset));
  return 0;
}

export async function listWebhooks(ctx: CliContext, options: PageOptions): Promise<number> {
  const list = await (await ctx.api()).get<{ items: WebhookSubscription[]; total: number }>('/v1/webhooks', pageQuery(options));
  ctx.result(list, () => formatWebhookList(list, options.offset));
  return 0;
}

export async function showActivation(ctx: CliContext, id: string | undefined): Promise<number> {
  const activation = await (await ctx.api()).get<Activation>(id ? `/v1/activation/${encodeURIComponent(id)}` : '/v1/activation');
  ctx.result(activation, () => formatActivation(activation));
  return 0;
}
