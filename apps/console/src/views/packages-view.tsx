import { type FormEvent, useReducer, useRef, useState } from 'react';
import type { CreatePackage, Package, Platform, SignedManifest } from '@fleetcast/contracts';
import { describeError, type ApiClient } from '../api/api-client';
import { uploadPackageContent, type UploadHandle } from '../api/package-upload';
import { formatBytes, formatTime } from '../lib/format';
import { idleUpload, isUploadBusy, reduceUpload, uploadPercent } from '../lib/upload-state';
import { ErrorNote, Loading, StateBadge } from './common';
import { Link } from './navigation';
import { useLoad } from './use-load';

const PACKAGE_PAGE = 200;

export function PackagesView({ api, writer }: { api: ApiClient; writer: boolean }) {
  const list = useLoad(() => api.get<{ items: Package[]; total: number }>(`/v1/packages?limit=${PACKAGE_PAGE}`), 'packages');
  const [selected, setSelected] = useState<string | null>(null);
  const packages = list.data?.items ?? [];
  const chosen = packages.find((p) => p.id === selected) ?? null;
  return (
    <>
      <div className="page-head">
        <h1 tabIndex={-1}>Packages</h1>
        <button type="button" onClick={list.reload} disabled={list.loading}>
          Refresh
        </button>
      </div>
      {writer ? <UploadForm api={api} onUploaded={(p) => (list.reload(), setSelected(p.id))} /> : null}
      <section aria-labelledby="package-list-heading">
        <h2 id="package-list-heading">All packages{list.data ? ` (${list.data.total})` : ''}</h2>
        <ErrorNote message={list.error} />
        {!list.data && list.loading ? <Loading what="packages" /> : null}
        {list.data && packages.length === 0 ? <p className="muted">No package yet{writer ? ': upload one above.' : '.'}</p> : null}
        {packages.length > 0 ? (
          <table>
            <thead>
              <tr>
                <th scope="col">Name</th>
                <th scope="col">Version</th>
                <th scope="col">Platform</th>
                <th scope="col">Status</th>
                <th scope="col">Size</th>
                <th scope="col">Created</th>
                <th scope="col">
                  <span className="visually-hidden">Actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {packages.map((p) => (
                <tr key={p.id} aria-selected={p.id === selected ? true : undefined}>
                  <th scope="row">{p.name}</th>
                  <td>{p.version}</td>
                  <td>{p.platform}</td>
                  <td>
                    <StateBadge state={p.status} />
                  </td>
                  <td>{p.size === null ? '–' : formatBytes(p.size)}</td>
                  <td>{formatTime(p.createdAt)}</td>
                  <td className="actions">
                    <button type="button" onClick={() => setSelected(p.id === selected ? null : p.id)} aria-expanded={p.id === selected} aria-controls="package-details">
                      Details<span className="visually-hidden"> of {p.name} {p.version}</span>
                    </button>
                    {writer && p.status === 'ready' ? (
                      <Link to={{ page: 'new-task', packageId: p.id }} className="button-link">
                        Distribute<span className="visually-hidden"> {p.name} {p.version}</span>
                      </Link>
                    ) : null}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        ) : null}
      </section>
      {chosen ? <PackageDetails api={api} pkg={chosen} /> : null}
    </>
  );
}

function PackageDetails({ api, pkg }: { api: ApiClient; pkg: Package }) {
  const manifest = useLoad<SignedManifest | null>(() => (pkg.status === 'ready' ? api.get<SignedManifest>(`/v1/packages/${encodeURIComponent(pkg.id)}/manifest`) : Promise.resolve(null)), pkg.id);
  const blocks = manifest.data ? Math.round((manifest.data.blockHashes.replace(/=+$/, '').length * 3) / 4 / 32) : null;
  return (
    <section id="package-details" aria-labelledby="package-details-heading" className="panel">
      <h2 id="package-details-heading">
        {pkg.name} {pkg.version}
      </h2>
      <dl className="details">
        <dt>ID</dt>
        <dd>
          <code>{pkg.id}</code>
        </dd>
        <dt>Install command</dt>
        <dd>
          <code>{[pkg.installCommand, ...pkg.installArgs].join(' ')}</code>
        </dd>
        <dt>Success exit codes</dt>
        <dd>{pkg.successExitCodes.join(', ')}</dd>
        <dt>Timeout</dt>
        <dd>{pkg.timeoutSeconds} s</dd>
        <dt>Content (SHA-256)</dt>
        <dd>{pkg.contentId ? <code className="wrap">{pkg.contentId}</code> : 'not uploaded yet'}</dd>
      </dl>
      <h3>Signed manifest</h3>
      <ErrorNote message={manifest.error} />
      {pkg.status !== 'ready' ? <p className="muted">The manifest is made once the content is uploaded.</p> : null}
      {manifest.data ? (
        <dl className="details" aria-label="Manifest">
          <dt>Size</dt>
          <dd>
            {formatBytes(manifest.data.size)} ({manifest.data.size.toLocaleString('en')} bytes)
          </dd>
          <dt>Block size</dt>
          <dd>{formatBytes(manifest.data.blockSize)}</dd>
          <dt>Blocks</dt>
          <dd>{blocks}, each verified by its SHA-256 on every device</dd>
          <dt>Signing key</dt>
          <dd>
            <code>{manifest.data.keyId}</code>
          </dd>
          <dt>Signature (Ed25519)</dt>
          <dd>
            <code className="wrap">{manifest.data.signature}</code>
          </dd>
        </dl>
      ) : null}
    </section>
  );
}

interface PackageFields {
  name: string;
  version: string;
  platform: Platform;
  installCommand: string;
  installArgs: string;
  timeoutSeconds: string;
}

const emptyFields: PackageFields = { name: '', version: '', platform: 'linux', installCommand: '', installArgs: '', timeoutSeconds: '3600' };

function UploadForm({ api, onUploaded }: { api: ApiClient; onUploaded(pkg: Package): void }) {
  const [fields, setFields] = useState(emptyFields);
  const [file, setFile] = useState<File | null>(null);
  const [upload, dispatch] = useReducer(reduceUpload, idleUpload);
  const handle = useRef<UploadHandle | null>(null);
  const fileInput = useRef<HTMLInputElement>(null);
  const busy = isUploadBusy(upload);
  const set = (name: keyof PackageFields) => (e: { target: { value: string } }) => setFields((f) => ({ ...f, [name]: e.target.value }));

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    if (!file) return;
    dispatch({ type: 'start', fileName: file.name, total: file.size });
    try {
      const body: CreatePackage = {
        name: fields.name.trim(),
        version: fields.version.trim(),
        platform: fields.platform,
        installCommand: fields.installCommand.trim(),
        // One argument per line: an argument may hold spaces.
        installArgs: fields.installArgs.split('\n').filter((a) => a.length > 0),
        timeoutSeconds: Number(fields.timeoutSeconds),
      };
      const created = await api.post<Package>('/v1/packages', body);
      dispatch({ type: 'created', packageId: created.id });
      handle.current = uploadPackageContent(api.token, created.id, file, {
        onProgress: (loaded, total) => dispatch({ type: 'progress', loaded, total }),
        onSent: () => dispatch({ type: 'sent' }),
      });
      const ready = await handle.current.done;
      dispatch({ type: 'done', pkg: ready });
      setFields(emptyFields);
      setFile(null);
      if (fileInput.current) fileInput.current.value = '';
      onUploaded(ready);
    } catch (error) {
      dispatch({ type: 'failed', message: describeError(error) });
    } finally {
      handle.current = null;
    }
  };

  const percent = uploadPercent(upload);
  return (
    <section aria-labelledby="upload-heading" className="panel">
      <h2 id="upload-heading">Upload a package</h2>
      <form onSubmit={submit} className="form-grid">
        <label htmlFor="pkg-file">File</label>
        <input id="pkg-file" ref={fileInput} type="file" required disabled={busy} onChange={(e) => setFile(e.target.files?.[0] ?? null)} />
        <label htmlFor="pkg-name">Name</label>
        <input id="pkg-name" required maxLength={200} disabled={busy} value={fields.name} onChange={set('name')} />
        <label htmlFor="pkg-version">Version</label>
        <input id="pkg-version" required maxLength={100} disabled={busy} value={fields.version} onChange={set('version')} />
        <label htmlFor="pkg-platform">Platform</label>
        <select id="pkg-platform" disabled={busy} value={fields.platform} onChange={set('platform')}>
          <option value="linux">Linux</option>
          <option value="windows">Windows</option>
          <option value="macos">macOS</option>
        </select>
        <label htmlFor="pkg-command">Install command</label>
        <input id="pkg-command" required maxLength={4096} disabled={busy} value={fields.installCommand} onChange={set('installCommand')} aria-describedby="pkg-command-help" />
        <p id="pkg-command-help" className="hint">
          Run on each device with the package's path in <code>FLEETCAST_PACKAGE_PATH</code>.
        </p>
        <label htmlFor="pkg-args">Arguments (one per line)</label>
        <textarea id="pkg-args" rows={2} disabled={busy} value={fields.installArgs} onChange={set('installArgs')} />
        <label htmlFor="pkg-timeout">Timeout (seconds)</label>
        <input id="pkg-timeout" type="number" min={1} max={86400} required disabled={busy} value={fields.timeoutSeconds} onChange={set('timeoutSeconds')} />
        <div className="form-actions">
          <button type="submit" disabled={busy || !file}>
            Upload
          </button>
          {busy && upload.phase === 'uploading' ? (
            <button type="button" onClick={() => handle.current?.abort()}>
              Cancel upload
            </button>
          ) : null}
        </div>
      </form>
      {upload.phase !== 'idle' ? (
        <div className="upload-status">
          <label htmlFor="upload-progress">Upload of {upload.fileName}</label>
          <progress id="upload-progress" max={100} value={percent} aria-valuetext={`${percent} %`}>
            {percent} %
          </progress>
          <span aria-hidden="true">{percent} %</span>
          <p role="status" className={upload.phase === 'failed' ? 'error' : undefined}>
            {upload.phase === 'creating' ? 'Creating the package…' : null}
            {upload.phase === 'uploading' ? `${formatBytes(upload.loaded)} of ${formatBytes(upload.total)} sent` : null}
            {upload.phase === 'processing' ? 'All bytes sent; the origin is verifying them and signing the manifest…' : null}
            {upload.phase === 'done' ? `Uploaded: ${upload.pkg.name} ${upload.pkg.version} is ${upload.pkg.status}.` : null}
            {upload.phase === 'failed' ? `Upload failed: ${upload.message}` : null}
          </p>
        </div>
      ) : null}
    </section>
  );
}
