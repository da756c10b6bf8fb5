import { useState } from 'react';
import type { Task } from '@fleetcast/contracts';
import type { ApiClient } from '../api/api-client';
import { formatTime } from '../lib/format';
import { progressOf } from '../lib/task-view';
import { ErrorNote, Loading, StateBadge } from './common';
import { Link } from './navigation';
import { useLoad } from './use-load';

const TASK_PAGE = 100;

const STATUSES = ['scheduled', 'active', 'completed'] as const;

export function TasksView({ api, writer }: { api: ApiClient; writer: boolean }) {
  const [status, setStatus] = useState<'' | (typeof STATUSES)[number]>('');
  const list = useLoad(() => api.get<{ items: Task[]; total: number }>(`/v1/tasks?limit=${TASK_PAGE}${status ? `&status=${status}` : ''}`), `tasks:${status}`);
  const tasks = list.data?.items ?? [];
  return (
    <>
      <div className="page-head">
        <h1 tabIndex={-1}>Tasks</h1>
        <button type="button" onClick={list.reload} disabled={list.loading}>
          Refresh
        </button>
        {writer ? (
          <Link to={{ page: 'new-task' }} className="button-link primary">
            Create a task
          </Link>
        ) : null}
      </div>
      <div className="filters">
        <label htmlFor="task-status-filter">Status</label>
        <select id="task-status-filter" value={status} onChange={(e) => setStatus(e.target.value as typeof status)}>
          <option value="">Any</option>
          {STATUSES.map((s) => (
            <option key={s} value={s}>
              {s}
            </option>
          ))}
        </select>
        {list.data ? <span className="muted">{list.data.total} task{list.data.total === 1 ? '' : 's'}{list.data.total > tasks.length ? `, the newest ${tasks.length} shown` : ''}</span> : null}
      </div>
      <ErrorNote message={list.error} />
      {!list.data && list.loading ? <Loading what="tasks" /> : null}
      {list.data && tasks.length === 0 ? <p className="muted">{status ? `No ${status} task.` : 'No task yet.'}</p> : null}
      {tasks.length > 0 ? (
        <table>
          <caption className="visually-hidden">Tasks, newest first</caption>
          <thead>
            <tr>
              <th scope="col">Task</th>
              <th scope="col">Action</th>
              <th scope="col">Status</th>
              <th scope="col">Devices done</th>
              <th scope="col">Failed</th>
              <th scope="col">Starts</th>
            </tr>
          </thead>
          <tbody>
            {tasks.map((t) => {
              const p = progressOf(t.summary);
              return (
                <tr key={t.id}>
                  <th scope="row">
                    <Link to={{ page: 'task', id: t.id }}>{t.name}</Link>
                  </th>
                  <td>{t.action}</td>
                  <td>
                    <StateBadge state={t.status} />
                  </td>
                  <td>
                    {p.succeeded + p.failed} / {p.total}
                  </td>
                  <td>{p.failed}</td>
                  <td>{formatTime(t.startAt)}</td>
                </tr>
              );
            })}
          </tbody>
        </table>
      ) : null}
    </>
  );
}
