import { Inject, Injectable } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import { EntityManager } from 'typeorm';
import {
  AgentSettings,
  DEFAULT_AGENT_SETTINGS,
  ErrorCode,
  FleetcastError,
  Profile,
  ResolvedSettings,
  SettingsChanged,
  TasksRpc,
  RpcRequest,
} from '@fleetcast/contracts';
import { encodeJson, NatsConnection, tracedHeaders } from '@fleetcast/nats';
import { NATS_CONNECTION } from '@fleetcast/service-kit';
import { ProfilesRepository } from './profiles.repository';

const settingsOf = (p: Profile): AgentSettings => ({
  useMulticast: p.useMulticast,
  sessionStartDelaySeconds: p.sessionStartDelaySeconds,
  peerDownloadAllowed: p.peerDownloadAllowed,
  lanRateLimitKbps: p.lanRateLimitKbps,
  cacheSizeLimitBytes: p.cacheSizeLimitBytes,
});

/**
 * Agent settings profiles. Changes reach connected agents at once through a SettingsChanged
 * broadcast; an agent that misses it reads its settings again at its next inventory scan.
 */
@Injectable()
export class ProfilesService {
  constructor(
    private readonly profiles: ProfilesRepository,
    @Inject(NATS_CONNECTION) private readonly nc: NatsConnection,
  ) {}

  create(request: RpcRequest<typeof TasksRpc.createProfile>): Promise<Profile> {
    const { name, ...settings } = request;
    return this.profiles.insert(randomUUID(), name, { ...DEFAULT_AGENT_SETTINGS, ...settings });
  }

  async update(id: string, patch: RpcRequest<typeof TasksRpc.updateProfile>['patch']): Promise<Profile> {
    const current = await this.get(id);
    const { name, ...settings } = patch;
    const updated = await this.profiles.update(id, name ?? current.name, { ...settingsOf(current), ...settings });
    if (!updated) throw new FleetcastError(ErrorCode.ProfileNotFound, `profile ${id} not found`);
    this.nc.publish(SettingsChanged.subject(), encodeJson(SettingsChanged.schema.parse({ profileId: id, changedAt: updated.updatedAt })), {
      headers: tracedHeaders(),
    });
    return updated;
  }

  async get(id: string, manager?: EntityManager): Promise<Profile> {
    const found = await this.profiles.find(id, manager);
    if (!found) throw new FleetcastError(ErrorCode.ProfileNotFound, `profile ${id} not found`);
    return found;
  }

  list(limit: number, offset: number) {
    return this.profiles.list(limit, offset);
  }

  /** The settings of a task: its own profile when it has one, else the devices' default. */
  async resolve(profileId: string | null, manager?: EntityManager): Promise<ResolvedSettings> {
    const profile = profileId ? await this.get(profileId, manager) : await this.profiles.findDefault(manager);
    return { profileId: profile.id, ...settingsOf(profile) };
  }
}
