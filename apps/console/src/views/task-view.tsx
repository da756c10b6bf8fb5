import { Fragment, useEffect, useReducer, useState } from 'react';
import type { DeviceTask, DeviceTaskState } from '@fleetcast/contracts';
import { type ApiClient, describeError } from '../api/api-client';
import { followTask, POLL_INTERVAL_MS } from '../api/task-updates';
import { formatBytes, formatTime, shortId } from '../lib/format';
import { explainDevice, initialTaskView, lanSessionRows, officeRows, progressOf, reduceTaskView, sortDevices, sourceShares, type TaskSnapshot } from '../lib/task-view';
import { ErrorNote, Loading, StateBadge } from './common';
import { useLoad } from './use-load';

const STATES: DeviceTaskState[] = ['pending', 'queued', 'downloading', 'cached', 'installing', 'succeeded', 'failed', 'cancelled'];

export function TaskView({ api, taskId, writer }: { api: ApiClient; taskId: string; writer: boolean }) {
  const [view, dispatch] = useReducer(reduceTaskView, initialTaskView);
  useEffect(
    () =>
      followTask(api, taskId, {
        onSnapshot: (snapshot, at) => dispatch({ type: 'snapshot', snapshot, at }),
        onError: (message, at) => dispatch({ type: 'error', message, at }),
      }),
    // A new client each render carries the same token: the task decides.
    [taskId],
  );
  const snapshot = view.snapshot;
  return (
    <>
      <h1 tabIndex={-1}>{snapshot ? `Task: ${snapshot.task.name}` : 'Task'}</h1>
      {view.status === 'error' ? <ErrorNote message={view.error} /> : null}
      {!snapshot && view.status === 'loading' ? <Loading what="the task" /> : null}
      {snapshot && writer ? <TaskActions api={api} snapshot={snapshot} /> : null}
      {snapshot ? <TaskBody api={api} snapshot={snapshot} status={view.status} updatedAt={view.updatedAt} error={view.error} /> : null}
    </>
  );
}

/**
 * Cancel the task, or run its failed devices again (operator and admin tokens only). The page's
 * next update shows the outcome; a refusal (the task finished meanwhile) is said next to the buttons.
 */
function TaskActions({ api, snapshot }: { api: ApiClient; snapshot: TaskSnapshot }) {
  const [busy, setBusy] = useState(false);
  const [note, setNote] = useState<{ error: boolean; text: string } | null>(null);
  const { task } = snapshot;
  const failed = task.summary.counts.failed;
  const finished = task.status === 'completed' || task.status === 'cancelled';
  const act = async (what: 'cancel' | 'retry') => {
    if (what === 'cancel' && !window.confirm(`Cancel "${task.name}"? Devices not done yet stop and remove what they downloaded.`)) return;
    setBusy(true);
    setNote(null);
    try {
      await api.post(`/v1/tasks/${encodeURIComponent(task.id)}/${what}`, {});
      setNote({ error: false, text: what === 'cancel' ? 'Cancelled: the devices stop at their next message.' : `Retrying ${failed} failed device${failed === 1 ? '' : 's'}.` });
    } catch (error) {
      setNote({ error: true, text: describeError(error) });
    } finally {
      setBusy(false);
    }
  };
  return (
    <div className="actions" role="group" aria-label="Task actions">
      <button type="button" onClick={() => void act('cancel')} disabled={busy || finished}>
        Cancel task
      </button>{' '}
      <button type="button" onClick={() => void act('retry')} disabled={busy || failed === 0 || task.status === 'cancelled'}>
        Retry failed devices ({failed})
      </button>
      {note ? (
        <p role="status" className={note.error ? 'error' : 'muted small'}>
          {note.text}
        </p>
      ) : null}
    </div>
  );
}

function TaskBody({ api, snapshot, status, updatedAt, error }: { api: ApiClient; snapshot: TaskSnapshot; status: string; updatedAt: number | null; error: string | null }) {
  const { task, devices } = snapshot;
  const [historyOf, setHistoryOf] = useState<string | null>(null);
  const summary = task.summary;
  const progress = progressOf(summary);
  const lan = lanSessionRows(summary);
  const offices = officeRows(summary);
  return (
    <>
      <dl className="details inline">
        <dt>ID</dt>
        <dd>
          <code>{task.id}</code>
        </dd>
        <dt>Action</dt>
        <dd>{task.action}</dd>
        <dt>Status</dt>
        <dd>
          <StateBadge state={task.status} />
        </dd>
        <dt>Package</dt>
        <dd>
          <code title={task.packageId}>{shortId(task.packageId)}</code>
        </dd>
        <dt>Starts</dt>
        <dd>{formatTime(task.startAt)}</dd>
      </dl>

      <section aria-labelledby="progress-heading">
        <h2 id="progress-heading">Progress</h2>
        <div className="progress-line">
          <progress id="task-progress" max={100} value={progress.percentDone} aria-labelledby="progress-heading" aria-valuetext={`${progress.percentDone} % of devices done`} />
          <p role="status" id="task-live-status">
            {progress.succeeded + progress.failed} of {progress.total} devices done ({progress.succeeded} succeeded, {progress.failed} failed)
            {status === 'settled' ? ' · finished' : ` · live, every ${POLL_INTERVAL_MS / 1000} s`}
          </p>
        </div>
        <p className="muted small">
          Updated {updatedAt ? formatTime(new Date(updatedAt).toISOString()) : '–'}
          {error ? <span className="error"> · last update failed: {error}</span> : null}
        </p>
        <table className="compact counts">
          <caption className="visually-hidden">Devices per state</caption>
          <thead>
            <tr>
              {STATES.map((s) => (
                <th scope="col" key={s}>
                  {s}
                </th>
              ))}
            </tr>
          </thead>
          <tbody>
            <tr>
              {STATES.map((s) => (
                <td key={s} data-state={s}>
                  {summary.counts[s] ?? 0}
                </td>
              ))}
            </tr>
          </tbody>
        </table>
      </section>

      <div className="columns">
        <section aria-labelledby="bytes-heading">
          <h2 id="bytes-heading">Bytes by source</h2>
          <table className="compact" id="bytes-by-source">
            <thead>
              <tr>
                <th scope="col">Source</th>
                <th scope="col">Bytes</th>
                <th scope="col">Share</th>
              </tr>
            </thead>
            <tbody>
              {sourceShares(summary.bytes).map((s) => (
                <tr key={s.source} data-source={s.source}>
                  <th scope="row">{s.label}</th>
                  <td data-bytes={s.bytes}>{formatBytes(s.bytes)}</td>
                  <td>
                    <span className="share-bar" aria-hidden="true">
                      <span className={`share-fill source-${s.source}`} style={{ width: `${s.percent}%` }} />
                    </span>{' '}
                    {s.percent} %
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </section>
        {summary.reasons && summary.reasons.length > 0 ? (
          <section aria-labelledby="reasons-heading">
            <h2 id="reasons-heading">Why devices wait or failed</h2>
            <ul className="reasons">
              {summary.reasons.map((r) => (
                <li key={`${r.state}-${r.code}`}>
                  <StateBadge state={r.state} /> {r.devices} device{r.devices === 1 ? '' : 's'}: <code>{r.code}</code> {r.message}
                </li>
              ))}
            </ul>
          </section>
        ) : null}
      </div>

      {offices.length > 0 ? (
        <section aria-labelledby="offices-heading">
          <h2 id="offices-heading">Offices</h2>
          <p className="muted small">Over the WAN: from the origin and the parent office. Saved: from peers and multicast in the office.</p>
          <table id="task-offices">
            <thead>
              <tr>
                <th scope="col">Office</th>
                <th scope="col">Devices</th>
                <th scope="col">Over the WAN</th>
                <th scope="col">Saved</th>
              </tr>
            </thead>
            <tbody>
              {offices.map((o) => (
                <tr key={o.officeId ?? ''} data-office={o.officeId ?? ''}>
                  <th scope="row">{o.label}</th>
                  <td>{o.devices}</td>
                  <td data-bytes={o.wanBytes}>{formatBytes(o.wanBytes)}</td>
                  <td data-bytes={o.savedBytes}>
                    {formatBytes(o.savedBytes)} ({o.savedPercent} %)
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </section>
      ) : null}

      <section aria-labelledby="lan-heading">
        <h2 id="lan-heading">LAN sessions per subnet</h2>
        {lan.length === 0 ? (
          <p className="muted">No device has reported a subnet yet.</p>
        ) : (
          <table id="lan-sessions">
            <thead>
              <tr>
                <th scope="col">Subnet</th>
                <th scope="col">Devices done</th>
                <th scope="col">Representative</th>
                <th scope="col">Session start</th>
                <th scope="col">LAN bytes sent</th>
                <th scope="col">Repairs</th>
                <th scope="col">Issues</th>
              </tr>
            </thead>
            <tbody>
              {lan.map((row) => (
                <tr key={row.subnet}>
                  <th scope="row">{row.subnet}</th>
                  <td>
                    {row.succeeded} / {row.devices}
                  </td>
                  <td>{row.representative ?? (row.hadSession ? '–' : 'none: no LAN session')}</td>
                  <td>{formatTime(row.startedAt)}</td>
                  <td>{formatBytes(row.lanBytesSent)}</td>
                  <td>
                    {row.repairs}
                    {row.invalidPackets > 0 ? ` (${row.invalidPackets} invalid packets)` : ''}
                  </td>
                  <td>
                    {row.issues.length === 0
                      ? 'none'
                      : row.issues.map((i) => (
                          <div key={i.code}>
                            <code>{i.code}</code> ({i.devices}): {i.message}
                          </div>
                        ))}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </section>

      <section aria-labelledby="devices-heading">
        <h2 id="devices-heading">Devices{snapshot.devicesTotal > devices.length ? ` (first ${devices.length} of ${snapshot.devicesTotal})` : ` (${devices.length})`}</h2>
        <table id="task-devices">
          <thead>
            <tr>
              <th scope="col">Device</th>
              <th scope="col">Subnet</th>
              <th scope="col">State</th>
              <th scope="col">From origin</th>
              <th scope="col">From parent office</th>
              <th scope="col">From LAN</th>
              <th scope="col">Why</th>
              <th scope="col">Updated</th>
              <th scope="col">
                <span className="visually-hidden">History</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {sortDevices(devices).map((d) => (
              <Fragment key={d.deviceId}>
                <tr data-device={d.deviceId} data-state={d.state}>
                  <th scope="row">{d.deviceId}</th>
                  <td>{d.subnet ?? '–'}</td>
                  <td>
                    <StateBadge state={d.state} />
                  </td>
                  <td>{formatBytes(d.bytes.origin)}</td>
                  <td>{formatBytes(d.bytes.parent ?? 0)}</td>
                  <td>{formatBytes(d.bytes.multicast + d.bytes.peer)}</td>
                  <td className="why">{explainDevice(d)}</td>
                  <td>{formatTime(d.updatedAt)}</td>
                  <td>
                    <button
                      type="button"
                      aria-expanded={historyOf === d.deviceId}
                      aria-controls={`history-${d.deviceId}`}
                      onClick={() => setHistoryOf(historyOf === d.deviceId ? null : d.deviceId)}
                    >
                      History<span className="visually-hidden"> of {d.deviceId}</span>
                    </button>
                  </td>
                </tr>
                {historyOf === d.deviceId ? (
                  <tr id={`history-${d.deviceId}`} className="history-row">
                    <td colSpan={9}>
                      <DeviceHistory api={api} device={d} />
                    </td>
                  </tr>
                ) : null}
              </Fragment>
            ))}
          </tbody>
        </table>
      </section>
    </>
  );
}

interface DeviceHistoryItem {
  seq: number;
  state: DeviceTaskState;
  reason: { code: string; message: string } | null;
  at: string;
}

/** How a device got where it is in the task: each change of state or reason, oldest first. Read again when its row changes. */
function DeviceHistory({ api, device }: { api: ApiClient; device: DeviceTask }) {
  const path = `/v1/tasks/${encodeURIComponent(device.taskId)}/devices/${encodeURIComponent(device.deviceId)}/history`;
  const history = useLoad(() => api.get<{ items: DeviceHistoryItem[] }>(path), `${path}@${device.updatedAt}`);
  if (history.error) return <ErrorNote message={history.error} />;
  if (!history.data) return <Loading what={`the history of ${device.deviceId}`} />;
  return (
    <ol className="history" aria-label={`History of ${device.deviceId}`}>
      {history.data.items.map((h) => (
        <li key={h.seq}>
          {formatTime(h.at)} <StateBadge state={h.state} />
          {h.reason ? (
            <>
              {' '}
              <code>{h.reason.code}</code> {h.reason.message}
            </>
          ) : null}
        </li>
      ))}
    </ol>
  );
}
