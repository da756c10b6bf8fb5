import { type FormEvent, useState } from 'react';
import type { Device, Package, Profile, Task } from '@fleetcast/contracts';
import { describeError, type ApiClient } from '../api/api-client';
import { buildCreateTask, emptyTaskForm, type TaskForm, type TaskFormField } from '../lib/task-form';
import { ErrorNote, Loading } from './common';
import { navigate } from './navigation';
import { PlanEstimatePanel } from './plan-estimate-panel';
import { useLoad } from './use-load';

interface Choices {
  packages: Package[];
  profiles: Profile[];
  devices: Device[];
}

async function loadChoices(api: ApiClient): Promise<Choices> {
  const [packages, profiles, devices] = await Promise.all([
    api.get<{ items: Package[] }>('/v1/packages?limit=1000'),
    api.get<{ items: Profile[] }>('/v1/profiles?limit=1000'),
    api.get<{ items: Device[] }>('/v1/devices?limit=1000'),
  ]);
  return { packages: packages.items.filter((p) => p.status === 'ready'), profiles: profiles.items, devices: devices.items };
}

export function TaskCreateView({ api, initialPackageId }: { api: ApiClient; initialPackageId?: string }) {
  const choices = useLoad(() => loadChoices(api), 'task-choices');
  const [form, setForm] = useState<TaskForm>({ ...emptyTaskForm, packageId: initialPackageId ?? '' });
  const [errors, setErrors] = useState<Partial<Record<TaskFormField, string>>>({});
  const [submitError, setSubmitError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const set = <K extends TaskFormField>(name: K, value: TaskForm[K]) => setForm((f) => ({ ...f, [name]: value }));
  const candidate = buildCreateTask(form, Date.now());

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    const built = buildCreateTask(form, Date.now());
    if (!built.ok) {
      setErrors(built.errors);
      return;
    }
    setErrors({});
    setSubmitError(null);
    setBusy(true);
    try {
      const task = await api.post<Task>('/v1/tasks', built.body);
      navigate({ page: 'task', id: task.id });
    } catch (error) {
      setSubmitError(describeError(error));
      setBusy(false);
    }
  };

  const fieldError = (name: TaskFormField) =>
    errors[name] ? (
      <span id={`${name}-error`} className="field-error">
        {errors[name]}
      </span>
    ) : null;
  const describedBy = (name: TaskFormField) => (errors[name] ? `${name}-error` : undefined);
  const online = (choices.data?.devices ?? []).filter((d) => !d.stale);

  return (
    <>
      <h1 tabIndex={-1}>New task</h1>
      <ErrorNote message={choices.error} />
      {!choices.data && choices.loading ? <Loading what="packages, profiles and devices" /> : null}
      <form onSubmit={submit} className="task-form" noValidate>
        <div className="form-grid">
          <label htmlFor="task-package">Package</label>
          <div>
            <select id="task-package" value={form.packageId} onChange={(e) => set('packageId', e.target.value)} aria-invalid={!!errors.packageId} aria-describedby={describedBy('packageId')}>
              <option value="">Choose a ready package…</option>
              {(choices.data?.packages ?? []).map((p) => (
                <option key={p.id} value={p.id}>
                  {p.name} {p.version} ({p.platform})
                </option>
              ))}
            </select>
            {fieldError('packageId')}
          </div>
          <label htmlFor="task-name">Name (optional)</label>
          <div>
            <input id="task-name" value={form.name} maxLength={200} onChange={(e) => set('name', e.target.value)} aria-describedby={describedBy('name')} />
            {fieldError('name')}
          </div>
        </div>

        <fieldset>
          <legend>Targets</legend>
          <div className="radios">
            <input id="targets-devices" type="radio" name="target-mode" checked={form.targetMode === 'devices'} onChange={() => set('targetMode', 'devices')} />
            <label htmlFor="targets-devices">Devices by ID</label>
            <input id="targets-query" type="radio" name="target-mode" checked={form.targetMode === 'query'} onChange={() => set('targetMode', 'query')} />
            <label htmlFor="targets-query">Inventory query</label>
          </div>
          {form.targetMode === 'devices' ? (
            <div className="form-grid">
              <label htmlFor="task-devices">Device IDs</label>
              <div>
                <textarea
                  id="task-devices"
                  rows={3}
                  value={form.deviceIds}
                  onChange={(e) => set('deviceIds', e.target.value)}
                  aria-invalid={!!errors.deviceIds}
                  aria-describedby={['task-devices-help', describedBy('deviceIds')].filter(Boolean).join(' ')}
                />
                <p id="task-devices-help" className="hint">
                  Separated by commas, spaces or lines.{' '}
                  {online.length > 0 ? (
                    <button type="button" className="link-button" onClick={() => set('deviceIds', online.map((d) => d.id).join('\n'))}>
                      Use all {online.length} online devices
                    </button>
                  ) : null}
                </p>
                {fieldError('deviceIds')}
              </div>
            </div>
          ) : (
            <div className="form-grid">
              <label htmlFor="task-platform">Platform</label>
              <div>
                <select id="task-platform" value={form.platform} onChange={(e) => set('platform', e.target.value as TaskForm['platform'])} aria-describedby={describedBy('platform')}>
                  <option value="">Any</option>
                  <option value="linux">Linux</option>
                  <option value="windows">Windows</option>
                  <option value="macos">macOS</option>
                </select>
                {fieldError('platform')}
              </div>
              <label htmlFor="task-subnet">Subnet (CIDR)</label>
              <input id="task-subnet" value={form.subnet} placeholder="10.1.2.0/24" onChange={(e) => set('subnet', e.target.value)} />
              <label htmlFor="task-hostname">Hostname prefix</label>
              <input id="task-hostname" value={form.hostnamePrefix} onChange={(e) => set('hostnamePrefix', e.target.value)} />
              <span />
              <div className="checkbox">
                <input id="task-stale" type="checkbox" checked={form.includeStale} onChange={(e) => set('includeStale', e.target.checked)} />
                <label htmlFor="task-stale">Include stale devices</label>
              </div>
            </div>
          )}
        </fieldset>

        <fieldset>
          <legend>Action</legend>
          <div className="radios">
            <input id="action-install" type="radio" name="action" checked={form.action === 'install'} onChange={() => set('action', 'install')} />
            <label htmlFor="action-install">Install</label>
            <input id="action-cache" type="radio" name="action" checked={form.action === 'cache-only'} onChange={() => set('action', 'cache-only')} />
            <label htmlFor="action-cache">Cache only (download and verify, install later)</label>
          </div>
        </fieldset>

        <div className="form-grid">
          <label htmlFor="task-profile">Settings profile</label>
          <select id="task-profile" value={form.profileId} onChange={(e) => set('profileId', e.target.value)}>
            <option value="">The devices' default</option>
            {(choices.data?.profiles ?? []).map((p) => (
              <option key={p.id} value={p.id}>
                {p.name}
                {p.isDefault ? ' (default)' : ''} — multicast {p.useMulticast ? 'on' : 'off'}, peers {p.peerDownloadAllowed ? 'on' : 'off'}
              </option>
            ))}
          </select>
        </div>

        <fieldset>
          <legend>Schedule</legend>
          <div className="radios">
            <input id="schedule-now" type="radio" name="schedule" checked={form.schedule === 'now'} onChange={() => set('schedule', 'now')} />
            <label htmlFor="schedule-now">Now</label>
            <input id="schedule-at" type="radio" name="schedule" checked={form.schedule === 'at'} onChange={() => set('schedule', 'at')} />
            <label htmlFor="schedule-at">At a time</label>
          </div>
          {form.schedule === 'at' ? (
            <div className="form-grid">
              <label htmlFor="task-start">Start at (UTC)</label>
              <div>
                <input id="task-start" type="datetime-local" value={form.startAt} onChange={(e) => set('startAt', e.target.value)} aria-invalid={!!errors.startAt} aria-describedby={describedBy('startAt')} />
                {fieldError('startAt')}
              </div>
            </div>
          ) : null}
        </fieldset>

        <PlanEstimatePanel api={api} task={candidate.ok ? candidate.body : null} />

        <div className="form-actions">
          <button type="submit" className="primary" disabled={busy}>
            {busy ? 'Creating…' : 'Create task'}
          </button>
        </div>
        <ErrorNote message={submitError} />
      </form>
    </>
  );
}
