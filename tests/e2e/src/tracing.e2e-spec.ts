import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { createServer, IncomingMessage, Server } from 'node:http';
import { AddressInfo } from 'node:net';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { gunzipSync } from 'node:zlib';
import { Consumers, TasksRpc } from '@fleetcast/contracts';
import {
  ApiClient,
  ControlPlane,
  createTestDatabase,
  NatsServer,
  startAgentProcess,
  startControlPlane,
  startNatsServer,
  stopAll,
  TestDatabase,
  waitFor,
} from '@fleetcast/testing';

/**
 * Traces across processes, as a tracing backend receives them: every service and an agent export
 * OTLP/HTTP to a small receiver in this test, which then checks that one trace runs from the
 * gateway's HTTP request through NATS into the tasks service and its database, and from an agent's
 * status report into the tasks service's consumer.
 */
const TOKEN = `e2e-${randomBytes(8).toString('hex')}`;
const DEVICE = 'trace-dev-1';

/** OTLP span kinds (opentelemetry-proto trace.proto, Span.SpanKind). */
const Kind = { internal: 1, server: 2, client: 3, producer: 4, consumer: 5 } as const;

type AttributeValue = string | number | boolean | undefined;

interface ReceivedSpan {
  service: string;
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  kind: number;
  attributes: Record<string, AttributeValue>;
  links: Array<{ traceId: string; spanId: string }>;
}

interface OtlpAnyValue {
  stringValue?: string;
  intValue?: number | string;
  doubleValue?: number;
  boolValue?: boolean;
}
interface OtlpKeyValue {
  key: string;
  value?: OtlpAnyValue;
}
interface OtlpSpan {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  kind: number;
  attributes?: OtlpKeyValue[];
  links?: Array<{ traceId: string; spanId: string }>;
}
interface OtlpTraceRequest {
  resourceSpans?: Array<{ resource?: { attributes?: OtlpKeyValue[] }; scopeSpans?: Array<{ spans?: OtlpSpan[] }> }>;
}

const valueOf = (v: OtlpAnyValue | undefined): AttributeValue =>
  v?.stringValue ?? (v?.intValue !== undefined ? Number(v.intValue) : undefined) ?? v?.doubleValue ?? v?.boolValue;
const attributesOf = (list: OtlpKeyValue[] = []) => Object.fromEntries(list.map((a) => [a.key, valueOf(a.value)]));

/**
 * A minimal OTLP/HTTP trace receiver: `POST /v1/traces` with the JSON body that
 * `@opentelemetry/exporter-trace-otlp-http` sends (IDs in hex), flattened into spans that carry
 * their resource's `service.name`.
 */
async function startOtlpReceiver(): Promise<{ url: string; spans: ReceivedSpan[]; errors: string[]; close(): Promise<void> }> {
  const spans: ReceivedSpan[] = [];
  const errors: string[] = [];
  const read = async (req: IncomingMessage) => {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const body = Buffer.concat(chunks);
    return req.headers['content-encoding'] === 'gzip' ? gunzipSync(body) : body;
  };
  const server: Server = createServer((req, res) => {
    if (req.method !== 'POST' || req.url !== '/v1/traces' || !String(req.headers['content-type']).startsWith('application/json')) {
      errors.push(`${req.method} ${req.url} (${req.headers['content-type']})`);
      res.writeHead(415).end();
      return;
    }
    read(req).then(
      (body) => {
        const request = JSON.parse(body.toString('utf8')) as OtlpTraceRequest;
        for (const rs of request.resourceSpans ?? []) {
          const service = String(attributesOf(rs.resource?.attributes)['service.name']);
          for (const ss of rs.scopeSpans ?? []) {
            for (const s of ss.spans ?? []) {
              spans.push({
                service,
                traceId: s.traceId,
                spanId: s.spanId,
                parentSpanId: s.parentSpanId || undefined,
                name: s.name,
                kind: s.kind,
                attributes: attributesOf(s.attributes),
                links: (s.links ?? []).map((l) => ({ traceId: l.traceId, spanId: l.spanId })),
              });
            }
          }
        }
        res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
      },
      (error: Error) => {
        errors.push(error.message);
        res.writeHead(400).end();
      },
    );
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    spans,
    errors,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

let otlp: Awaited<ReturnType<typeof startOtlpReceiver>>;
let nats: NatsServer;
let db: TestDatabase;
let work: string;
let cp: ControlPlane;
let api: ApiClient;

/** Exporter settings for every traced process: short batches so a test does not wait 5 s per hop. */
const tracingEnv = () => ({ OTEL_EXPORTER_OTLP_ENDPOINT: otlp.url, OTEL_BSP_SCHEDULE_DELAY: '200' });

const trace = (traceId: string) => otlp.spans.filter((s) => s.traceId === traceId);
const statementOf = (s: ReceivedSpan) => String(s.attributes['db.query.text'] ?? s.attributes['db.statement'] ?? '');
const isPg = (s: ReceivedSpan) => s.attributes['db.system'] === 'postgresql' || s.attributes['db.system.name'] === 'postgresql';

/** The span's ancestors within its trace, nearest first (as far as the parent links reach). */
function ancestors(span: ReceivedSpan): ReceivedSpan[] {
  const inTrace = trace(span.traceId);
  const chain: ReceivedSpan[] = [];
  for (let at = span; at.parentSpanId; ) {
    const parent = inTrace.find((s) => s.spanId === at.parentSpanId);
    if (!parent) break;
    chain.push(parent);
    at = parent;
  }
  return chain;
}

/** One line per span of a trace, for assertion messages. */
function describeTrace(traceId: string): string {
  return trace(traceId)
    .map((s) => `  ${s.service} ${s.name} kind=${s.kind} span=${s.spanId} parent=${s.parentSpanId ?? '-'}${isPg(s) ? ` "${statementOf(s).slice(0, 60)}"` : ''}`)
    .join('\n');
}

/** Polls the received spans until `find` returns something; on timeout the message says what was missing. */
async function spansWhen<T>(find: () => T | undefined, description: string, timeoutMs = 20_000): Promise<T> {
  try {
    return await waitFor(async () => find() ?? null, { timeoutMs, intervalMs: 100, description });
  } catch (error) {
    const services = [...new Set(otlp.spans.map((s) => s.service))].join(', ');
    throw new Error(`${(error as Error).message}; ${otlp.spans.length} spans received from [${services}]; receiver errors: ${otlp.errors.join('; ') || 'none'}`);
  }
}

describe('end to end: traces across the gateway, NATS, the tasks service, its database and an agent', () => {
  before(async () => {
    otlp = await startOtlpReceiver();
    nats = await startNatsServer();
    db = await createTestDatabase('e2e_tracing');
    work = await mkdtemp(join(tmpdir(), 'fleetcast-tracing-'));
    cp = await startControlPlane({
      natsUrl: nats.url,
      trustDir: nats.trust?.dir,
      databaseUrl: db.url,
      workDir: join(work, 'control-plane'),
      apiToken: TOKEN,
      commonEnv: tracingEnv(),
    });
    api = new ApiClient(cp.gatewayUrl, TOKEN);
  });

  after(async () => {
    await stopAll();
    await otlp?.close();
    await db?.drop();
    if (work && !process.env.FLEETCAST_KEEP_TEST_FILES) await rm(work, { recursive: true, force: true });
    else if (work) console.log(`kept ${work}`);
  });

  test('POST /v1/packages: one trace from the gateway HTTP span through the NATS request to the INSERT in tasks', async () => {
    const pkg = await api.ok('POST', '/v1/packages', { name: 'traced', version: '1.0.0', platform: 'linux', installCommand: '/bin/true' });
    assert.ok(pkg.id);

    // The database call is the far end of the chain; wait for it, then for its trace to be whole
    // (each process exports on its own schedule).
    const insert = await spansWhen(
      () => otlp.spans.find((s) => s.service === 'fleetcast-tasks' && isPg(s) && /INSERT INTO tasks\.packages/.test(statementOf(s))),
      'a pg span of the tasks service for INSERT INTO tasks.packages',
    );
    const httpRoot = (s: ReceivedSpan) => s.service === 'fleetcast-gateway' && s.kind === Kind.server && !s.parentSpanId;
    await spansWhen(() => ancestors(insert).find(httpRoot), "the INSERT's trace to reach up to a gateway HTTP server span", 10_000).catch((error: Error) => {
      assert.fail(`${error.message}\ntrace now:\n${describeTrace(insert.traceId)}`);
    });

    const chain = ancestors(insert);
    const where = `\ntrace ${insert.traceId}:\n${describeTrace(insert.traceId)}`;
    // pg span <- ... <- tasks RPC server span <- gateway RPC client span <- ... <- gateway HTTP server span (the root).
    const rpcServer = chain.findIndex((s) => s.service === 'fleetcast-tasks' && s.kind === Kind.server && s.name === TasksRpc.createPackage.subject);
    assert.ok(rpcServer >= 0, `the INSERT runs inside the tasks service's ${TasksRpc.createPackage.subject} server span${where}`);
    assert.ok(chain.slice(0, rpcServer).every((s) => s.service === 'fleetcast-tasks'), `nothing outside tasks between the INSERT and the RPC span${where}`);
    const rpcClient = chain[rpcServer + 1];
    assert.ok(
      rpcClient && rpcClient.service === 'fleetcast-gateway' && rpcClient.kind === Kind.client && rpcClient.name === TasksRpc.createPackage.subject,
      `the RPC span's parent is the gateway's NATS request${where}`,
    );
    const root = chain[chain.length - 1];
    assert.ok(httpRoot(root), `the trace's root is the gateway's HTTP server span${where}`);
    assert.equal(root.attributes['http.method'] ?? root.attributes['http.request.method'], 'POST', `HTTP method of the root span${where}`);
    assert.equal(root.attributes['http.target'] ?? root.attributes['url.path'], '/v1/packages', `path of the root span${where}`);
    assert.ok(chain.slice(rpcServer + 1).every((s) => s.service === 'fleetcast-gateway'), `the gateway's part of the chain is all gateway spans${where}`);
  });

  test("an agent's status reports: each report span continues into the tasks service's consumer and its database", async () => {
    const agent = await startAgentProcess({ natsUrl: nats.url, controlPlane: cp, deviceId: DEVICE, dir: join(work, 'agents', DEVICE), args: ['--no-multicast'], env: tracingEnv() });
    await agent.waitForOutput(/agent ready/, { timeoutMs: 30_000 });
    await waitFor(async () => (await api.ok('GET', '/v1/devices')).total === 1, { timeoutMs: 20_000, description: 'the inventory knows the agent' });

    // A ready package: created and uploaded through the API, as an administrator would.
    const content = randomBytes(256 * 1024);
    const created = await api.ok('POST', '/v1/packages', { name: 'traced-cache', version: '1.0.0', platform: 'linux', installCommand: '/bin/true' });
    const uploaded = await api.upload(created.id, Readable.from([content]));
    assert.equal(uploaded.status, 200, JSON.stringify(uploaded.body));
    const task = await api.ok('POST', '/v1/tasks', { packageId: created.id, action: 'cache-only', targets: { deviceIds: [DEVICE] } });
    await waitFor(async () => (await api.ok('GET', `/v1/tasks/${task.id}/summary`)).counts.succeeded === 1, {
      timeoutMs: 60_000,
      intervalMs: 250,
      description: `${DEVICE} cached the package`,
    });

    const consumerName = `consume ${Consumers.deviceStatusIngest.durableName}`;
    const reportsOfTask = () =>
      otlp.spans.filter((s) => s.service === 'fleetcast-agent' && s.kind === Kind.producer && s.attributes['fleetcast.task.id'] === task.id);
    const consumerOf = (report: ReceivedSpan) =>
      otlp.spans.find(
        (s) =>
          s.service === 'fleetcast-tasks' &&
          s.kind === Kind.consumer &&
          s.name === consumerName &&
          (s.parentSpanId === report.spanId || s.links.some((l) => l.spanId === report.spanId && l.traceId === report.traceId)),
      );
    // The final report (succeeded) is among them once all have been exported and consumed.
    const reports = await spansWhen(() => {
      const found = reportsOfTask();
      return found.some((r) => r.attributes['fleetcast.task.state'] === 'succeeded') && found.every(consumerOf) ? found : undefined;
    }, `every status report span of task ${task.id} from the agent, each with the tasks consumer span that handled it`).catch((error: Error) => {
      const got = reportsOfTask().map((r) => `  ${r.name} ${r.attributes['fleetcast.task.state']} span=${r.spanId} consumer=${consumerOf(r)?.spanId ?? 'none'}`);
      assert.fail(`${error.message}\nreport spans:\n${got.join('\n') || '  none'}`);
    });
    assert.ok(reports.every((r) => r.name === 'send tasks.evt.device-status.reported.v1'), reports.map((r) => r.name).join(', '));

    // A report handled alone continues its trace: the consumer span is the report span's child, and
    // the database update below it belongs to the same trace. (A batch links to its reports instead.)
    const continued = reports.map((r) => ({ report: r, consumer: consumerOf(r)! })).filter(({ report, consumer }) => consumer.parentSpanId === report.spanId);
    assert.ok(continued.length > 0, `at least one report trace continues into the consumer (${reports.length} reports, all linked from batches)`);
    for (const { report, consumer } of continued) {
      assert.equal(consumer.traceId, report.traceId);
      const where = `\ntrace ${report.traceId}:\n${describeTrace(report.traceId)}`;
      const update = await spansWhen(
        () => trace(report.traceId).find((s) => s.service === 'fleetcast-tasks' && isPg(s) && /UPDATE tasks\.device_tasks/.test(statementOf(s)) && ancestors(s).includes(consumer)),
        `the report's database update under the consumer span${where}`,
        10_000,
      );
      assert.ok(update);
    }
  });
});
