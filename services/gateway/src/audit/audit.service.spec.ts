import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AUDIT_LOG_DEFAULT_WINDOW_SECONDS, AuditEventV1, ErrorCode, FleetcastError } from '@fleetcast/contracts';
import { createMetricsRegistry, Logger } from '@fleetcast/telemetry';
import type { AuditLogRepository, AuditLogStart } from './audit-log.repository';
import { AuditService } from './audit.service';

const event: AuditEventV1 = {
  requestId: '6f1c1f9e-8a4b-4c1e-9d7a-2b3c4d5e6f70',
  occurredAt: '2026-03-01T10:00:00.000Z',
  actor: { name: 'ops', scope: 'operator' },
  method: 'POST',
  route: '/v1/packages',
  path: '/v1/packages',
  params: {},
  resourceId: 'pkg-1',
  status: 201,
  outcome: 'accepted',
  errorCode: null,
  clientAddress: '127.0.0.1',
  forwardedFor: null,
  durationMs: 3,
};

function setup(failures: number) {
  const attempts: AuditEventV1[] = [];
  const reads: Array<{ start: AuditLogStart; limit: number; actor?: string }> = [];
  const repository = {
    async append(e: AuditEventV1) {
      attempts.push(e);
      if (attempts.length <= failures) throw new Error('no responders available for request');
    },
    async read(start: AuditLogStart, limit: number, actor?: string) {
      reads.push({ start, limit, ...(actor ? { actor } : {}) });
      if (actor === 'broken') throw new Error('stream not found');
      return { items: [], nextAfter: null };
    },
  } as unknown as AuditLogRepository;
  const lines: Array<{ level: string; fields: Record<string, unknown>; message: string }> = [];
  const log = (level: string) => (fields: Record<string, unknown>, message: string) => lines.push({ level, fields, message });
  const logger = { error: log('error'), warn: log('warn'), info: log('info') } as unknown as Logger;
  const registry = createMetricsRegistry('gateway-test');
  const service = new AuditService(repository, logger, registry, [1, 1, 1]);
  const failuresCounted = async () => (await registry.getSingleMetricAsString('fleetcast_gateway_audit_publish_failures_total')).match(/ (\d+)$/m)?.[1];
  return { service, attempts, reads, lines, failuresCounted };
}

test('a record is stored with as many tries as it takes, up to the retries', async () => {
  const table: Array<{ failures: number; attempts: number; lost: boolean }> = [
    { failures: 0, attempts: 1, lost: false },
    { failures: 1, attempts: 2, lost: false },
    { failures: 3, attempts: 4, lost: false },
    { failures: 4, attempts: 4, lost: true },
    { failures: 100, attempts: 4, lost: true },
  ];
  for (const row of table) {
    const { service, attempts, lines, failuresCounted } = setup(row.failures);
    await service.record(event);
    assert.equal(attempts.length, row.attempts, JSON.stringify(row));
    assert.ok(attempts.every((a) => a === event), 'every try publishes the same record (same request ID, so the stream drops a repeat)');
    assert.equal(await failuresCounted(), row.lost ? '1' : '0', JSON.stringify(row));
    const errors = lines.filter((l) => l.level === 'error');
    assert.equal(errors.length, row.lost ? 1 : 0);
    // A lost record survives in the service's log, whole.
    if (row.lost) assert.deepEqual(errors[0]!.fields.audit, event);
  }
});

test('shutdown waits for the records still being stored', async () => {
  const { service, attempts } = setup(2);
  void service.record(event);
  await service.beforeApplicationShutdown();
  assert.equal(attempts.length, 3);
});

test('reading starts after a sequence, at a time, or a day ago; a broken stream is 503', async () => {
  const { service, reads } = setup(0);
  const now = new Date('2026-03-02T00:00:00.000Z');
  await service.read({ limit: 10, after: 41 }, now);
  await service.read({ limit: 5, since: '2026-03-01T12:00:00.000Z', actor: 'ops' }, now);
  await service.read({ limit: 100 }, now);
  assert.deepEqual(reads, [
    { start: { after: 41 }, limit: 10 },
    { start: { since: new Date('2026-03-01T12:00:00.000Z') }, limit: 5, actor: 'ops' },
    { start: { since: new Date(now.getTime() - AUDIT_LOG_DEFAULT_WINDOW_SECONDS * 1000) }, limit: 100 },
  ]);
  await assert.rejects(service.read({ limit: 1, actor: 'broken' }), (e: unknown) => e instanceof FleetcastError && e.code === ErrorCode.Unavailable && /audit log could not be read/.test(e.message));
});
