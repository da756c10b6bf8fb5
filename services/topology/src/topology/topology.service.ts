import { Inject, Injectable } from '@nestjs/common';
import {
  Device,
  InventoryRpc,
  StoredTopology,
  TopologyChanged,
  TopologyChangedV1,
  TopologyDraft,
  TopologyValidation,
  TopologyVersion,
  UploadTopology,
} from '@fleetcast/contracts';
import { RpcClient } from '@fleetcast/nats';
import type { OutboxMessage } from '@fleetcast/persistence';
import { LOGGER } from '@fleetcast/service-kit';
import type { Logger } from '@fleetcast/telemetry';
import { TOPOLOGY_CONFIG, TopologyConfig } from '../config/topology.config';
import { generateDraft } from '../core/draft-generation';
import { summariseChange } from '../core/topology-diff';
import { TopologyModel } from '../core/topology-model';
import { validateTopology } from '../core/topology-validation';
import { TopologyOutbox } from '../outbox/topology-outbox.service';
import { PlacementRepository } from '../placement/placement.repository';
import { placedEvent } from '../placement/placement.service';
import { CurrentTopology } from './current-topology';
import { NoTopologyError, TopologyInvalidError, TopologyVersionConflictError, TopologyVersionNotFoundError } from './topology.exception';
import { TopologyRepository } from './topology.repository';

/** Inventory devices per page while generating a draft: the inventory's own largest page. */
const INVENTORY_PAGE = 1000;

/** Topology versions: upload (validated, stored atomically), read, list, and drafts from the inventory. */
@Injectable()
export class TopologyService {
  constructor(
    private readonly repository: TopologyRepository,
    private readonly placements: PlacementRepository,
    private readonly current: CurrentTopology,
    private readonly outbox: TopologyOutbox,
    private readonly rpc: RpcClient,
    @Inject(TOPOLOGY_CONFIG) private readonly config: TopologyConfig,
    @Inject(LOGGER) private readonly logger: Logger,
  ) {}

  validate(document: unknown): TopologyValidation {
    const result = validateTopology(document);
    return { valid: result.ok, problems: result.problems };
  }

  /**
   * Stores a document as the next version, in one transaction: the version with its author and
   * change summary, the offices and subnets, every device placed again, `topology.changed` and a
   * `device.placed` for each device that moved in the outbox. A document with problems is refused
   * before anything is written; a failure inside the transaction leaves everything as it was.
   */
  async upload(request: UploadTopology, now = new Date()): Promise<TopologyVersion> {
    const validation = validateTopology(request.document);
    if (!validation.ok) throw new TopologyInvalidError(validation.problems);
    const document = validation.document;
    const { stored, moved } = await this.repository.transaction(async (manager) => {
      const currentVersion = await this.repository.lockState(manager, 'update');
      if (request.baseVersion !== undefined && request.baseVersion !== (currentVersion ?? 0)) {
        throw new TopologyVersionConflictError(request.baseVersion, currentVersion);
      }
      const previous = currentVersion === null ? null : await this.repository.version(currentVersion, manager);
      const version = (currentVersion ?? 0) + 1;
      const summary = summariseChange(previous?.document ?? null, document);
      const row = { version, document, author: request.author, comment: request.comment ?? null, createdAt: now.toISOString(), summary };
      await this.repository.store(manager, row);

      const model = new TopologyModel(document);
      const moves: Array<{ deviceId: string; officeId: string; placed: boolean; address: string | null }> = [];
      const events: OutboxMessage[] = [];
      for (const placement of await this.placements.lockAll(manager)) {
        const next = model.place(placement.addresses);
        if (next.officeId === placement.officeId && next.placed === placement.placed && next.address === placement.address) continue;
        const move = { deviceId: placement.deviceId, officeId: next.officeId, placed: next.placed, address: next.address };
        moves.push(move);
        if (next.officeId !== placement.officeId || next.placed !== placement.placed) events.push(placedEvent(move, placement.officeId, version, now));
      }
      await this.placements.replace(manager, moves, version, now);
      const changed: TopologyChangedV1 = {
        version,
        previousVersion: currentVersion,
        author: request.author,
        comment: request.comment ?? null,
        summary,
        devicesMoved: events.length,
        changedAt: now.toISOString(),
      };
      await this.outbox.enqueue(manager, [{ subject: TopologyChanged.subject(), payload: changed }, ...events]);
      return { stored: row, moved: events.length };
    });
    this.outbox.kick();
    this.logger.info({ version: stored.version, author: stored.author, summary: stored.summary.text, devicesMoved: moved }, 'topology version stored');
    const { document: _document, ...version } = stored;
    return version;
  }

  async get(version?: number): Promise<StoredTopology> {
    if (version === undefined) {
      const current = await this.current.get();
      if (!current) throw new NoTopologyError();
      return split(current.version);
    }
    const row = await this.repository.version(version);
    if (!row) throw new TopologyVersionNotFoundError(version, await this.repository.currentVersion());
    return split(row);
  }

  listVersions(limit: number, offset: number): Promise<{ items: TopologyVersion[]; total: number }> {
    return this.repository.listVersions(limit, offset);
  }

  /** A draft from the inventory's devices (all of them, stale ones too: a device away today is still in its office). */
  async generateDraft(request: { originAddresses: string[]; branchBandwidthKbps: number }): Promise<TopologyDraft> {
    const devices: Device[] = [];
    for (let offset = 0; offset < this.config.DRAFT_MAX_DEVICES; offset += INVENTORY_PAGE) {
      const limit = Math.min(INVENTORY_PAGE, this.config.DRAFT_MAX_DEVICES - offset);
      const page = await this.rpc.call(InventoryRpc.listDevices, { limit, offset });
      devices.push(...page.items);
      if (page.items.length < limit || offset + page.items.length >= page.total) break;
    }
    const draft = generateDraft(devices, request);
    if (devices.length >= this.config.DRAFT_MAX_DEVICES) {
      draft.notes.push({ path: '', message: `made from the first ${this.config.DRAFT_MAX_DEVICES} devices of the inventory (DRAFT_MAX_DEVICES)` });
    }
    return draft;
  }
}

function split(row: { document: StoredTopology['document'] } & StoredTopology['version']): StoredTopology {
  const { document, ...version } = row;
  return { version, document };
}
