import { resolve } from 'node:path';
import type { Package, UploadSession } from '@fleetcast/contracts';
import { ApiError, UnreachableError, UsageError } from '../errors';
import { FleetcastApi } from '../api/api-client';
import { findPending, PendingUpload, readUploadState, uploadStatePathOf, withoutPending, withPending, writeUploadState } from '../config/upload-state';
import { formatBytes, formatPackage, formatPackageList } from '../output/format';
import { TransferDisplay } from '../progress/progress-display';
import { CliContext } from './cli-context';
import { fileChunks, fileInfoOf, sha256OfFile } from './file-source';
import { createPackageRequest, PackageListOptions, packageListQuery, PackageUploadOptions } from './requests';

export interface UploadOptions extends PackageUploadOptions {
  /** Upload to this existing package (one still awaiting content) instead of creating one. */
  package?: string;
  /** true: resume an upload remembered for this file, or fail; false: never resume (start over). Absent: resume when one is remembered. */
  resume?: boolean;
  /** Tries after a break (network error, server restart) before giving up; each resumes where the server stands. */
  retries?: number;
}

/** Tries after a break by default: with the backoff below, about five minutes of a server away. */
export const DEFAULT_UPLOAD_RETRIES = 12;
/** Waits between tries: 1 s, doubling to at most 30 s (a gateway restart takes seconds; a link down, longer). */
const BACKOFF_FIRST_MS = 1_000;
const BACKOFF_MAX_MS = 30_000;

/** Whether a failed chunk is worth trying again: the server went away, is busy with the last chunk, or failed for now. */
function retryable(error: unknown): boolean {
  if (error instanceof UnreachableError) return true;
  if (!(error instanceof ApiError)) return false;
  return error.status >= 500 || error.code === 'ORIGIN.UPLOAD_BUSY' || error.code === 'COMMON.UNAVAILABLE';
}

const isUploadGone = (error: unknown) => error instanceof ApiError && error.code === 'ORIGIN.UPLOAD_NOT_FOUND';

/**
 * Uploads a file as a package's content through a resumable upload (`/v1/uploads`): creates the
 * package (unless `--package` names one), hashes the file, creates the upload with the hash (the
 * server keeps nothing that does not match) and sends the bytes. A break (network, server restart)
 * is resumed where the server stands, after a backoff; a CLI killed mid-way is resumed by running
 * the same command again: the upload is remembered in a state file next to the config (0600).
 * The file is read, never held: flat memory for any size.
 */
export async function uploadPackage(ctx: CliContext, file: string, options: UploadOptions): Promise<number> {
  const path = resolve(file);
  const { size, mtimeMs } = await fileInfoOf(path);
  const api = await ctx.api();
  const statePath = uploadStatePathOf(ctx.configPath);
  const remembered = await readUploadState(statePath);
  let pending = options.resume === false ? undefined : findPending(remembered, { server: api.server, file: path, size, mtimeMs });
  if (pending && options.package && options.package !== pending.packageId) pending = undefined;
  if (options.resume === true && !pending) throw new UsageError(`nothing to resume: no unfinished upload of ${path} (as it is now) to ${api.server} is remembered in ${statePath}`);
  const remember = async (entry: PendingUpload | undefined) => {
    const now = ctx.io.now();
    const current = await readUploadState(statePath);
    await writeUploadState(statePath, entry ? withPending(current, entry, now) : withoutPending(current, { server: api.server, file: path }, now));
  };

  let pkg: Package;
  let sha256: string;
  let session: UploadSession | undefined;
  if (pending) {
    sha256 = pending.sha256;
    pkg = await api.get<Package>(`/v1/packages/${encodeURIComponent(pending.packageId)}`);
    if (pkg.status === 'ready') {
      // Finished before the CLI heard the answer.
      await remember(undefined);
      ctx.result(pkg, () => `${formatPackage(pkg)}\npackage ${pkg.id} is ready`);
      return 0;
    }
    session = await api.get<UploadSession>(`/v1/uploads/${encodeURIComponent(pending.uploadId)}`).catch((error: unknown) => {
      if (isUploadGone(error)) return undefined;
      throw error;
    });
    if (session) ctx.note(`resuming the upload of ${file} to package ${pkg.id} at byte ${session.offset} of ${size} (${percent(session.offset, size)}% already on the server)`);
    else ctx.note(`the server no longer has the upload of ${file} (it expired): starting it again for package ${pkg.id}`);
  } else {
    const request = options.package ? undefined : createPackageRequest(options);
    const hashing = new TransferDisplay('sha256', size, ctx.io.stderr, ctx.io.now);
    sha256 = await sha256OfFile(path, (n) => hashing.add(n));
    hashing.finish();
    pkg = request ? await api.post<Package>('/v1/packages', request) : await api.get<Package>(`/v1/packages/${encodeURIComponent(options.package!)}`);
    if (!request && pkg.status === 'ready') throw new UsageError(`package ${pkg.id} already has its content (${pkg.contentId}): create a new package`);
    if (request) ctx.note(`package ${pkg.id} created (${pkg.name} ${pkg.version}); uploading ${formatBytes(size)}, sha256 ${sha256}`);
  }
  const newSession = async (): Promise<UploadSession> => {
    const created = await api.post<UploadSession>('/v1/uploads', { packageId: pkg.id, size, sha256 });
    await remember({ server: api.server, file: path, size, mtimeMs, sha256, packageId: pkg.id, uploadId: created.id, updatedAt: new Date(ctx.io.now()).toISOString() });
    return created;
  };
  if (!session) {
    try {
      session = await newSession();
    } catch (error) {
      // A gateway older than resumable uploads: the route is unknown. Send the file in one request, as before.
      if (!(error instanceof ApiError && error.status === 404 && error.code === 'COMMON.NOT_FOUND')) throw error;
      ctx.note('this server has no resumable uploads: sending the file in one request (not resumable)');
      return uploadWhole(ctx, api, { path, file, size, sha256, pkg });
    }
  }

  const display = new TransferDisplay('upload', size, ctx.io.stderr, ctx.io.now);
  const resumedAt = session.offset;
  if (resumedAt > 0) display.resumeAt(resumedAt);
  let ready: Package;
  let sent = 0;
  try {
    ready = await sendFrom(ctx, api, { path, size, session, display, retries: options.retries ?? DEFAULT_UPLOAD_RETRIES, newSession, onSent: (n) => (sent += n) });
  } catch (error) {
    display.finish();
    // The package stays, awaiting content, and the upload is remembered: running the command again resumes it.
    ctx.note(`the upload did not complete; package ${pkg.id} awaits its content. Resume with: fleetcast packages upload ${file} --resume`);
    throw error;
  }
  display.finish();
  await remember(undefined);
  ctx.note(`upload complete: ${sent} bytes sent by this run${resumedAt > 0 ? `, resumed at byte ${resumedAt}` : ''}`);
  ctx.result(ready, () => `${formatPackage(ready)}\npackage ${ready.id} is ready`);
  return 0;
}

/** The single-request upload (`PUT /v1/packages/{id}/content`), for a server without `/v1/uploads`. */
async function uploadWhole(ctx: CliContext, api: FleetcastApi, run: { path: string; file: string; size: number; sha256: string; pkg: Package }): Promise<number> {
  const display = new TransferDisplay('upload', run.size, ctx.io.stderr, ctx.io.now);
  let ready: Package;
  try {
    ready = await api.uploadContent<Package>(run.pkg.id, { chunks: fileChunks(run.path, (n) => display.add(n)), size: run.size, sha256: run.sha256 });
  } catch (error) {
    display.finish();
    ctx.note(`the upload did not complete; package ${run.pkg.id} awaits its content: fleetcast packages upload ${run.file} --package ${run.pkg.id}`);
    throw error;
  }
  display.finish();
  ctx.result(ready, () => `${formatPackage(ready)}\npackage ${ready.id} is ready`);
  return 0;
}

/**
 * Sends the file from the upload's offset to its end, as one request; after a break, asks where the
 * server stands and goes on from there (an upload the server lost starts again, once).
 */
async function sendFrom(
  ctx: CliContext,
  api: FleetcastApi,
  run: { path: string; size: number; session: UploadSession; display: TransferDisplay; retries: number; newSession: () => Promise<UploadSession>; onSent: (bytes: number) => void },
): Promise<Package> {
  let { session } = run;
  let offset = session.offset;
  let failures = 0;
  let restarted = false;
  for (;;) {
    try {
      const chunks = fileChunks(run.path, (n) => {
        run.display.add(n);
        run.onSent(n);
      }, offset);
      const answer = await api.uploadChunk<Package>(session.id, offset, { chunks, length: run.size - offset });
      if (answer.complete) return answer.result;
      offset = answer.offset;
      failures = 0;
      run.display.resumeAt(offset);
      continue;
    } catch (error) {
      if (error instanceof ApiError && error.code === 'ORIGIN.UPLOAD_OFFSET_MISMATCH' && error.uploadOffset !== undefined) {
        offset = error.uploadOffset;
        run.display.resumeAt(offset);
        continue;
      }
      if (isUploadGone(error) && !restarted) {
        restarted = true;
        ctx.note('the server no longer has this upload: starting it again');
        session = await run.newSession();
        offset = 0;
        run.display.resumeAt(0);
        continue;
      }
      if (!retryable(error) || failures >= run.retries) throw error;
      failures += 1;
      const waitMs = Math.min(BACKOFF_MAX_MS, BACKOFF_FIRST_MS * 2 ** (failures - 1));
      ctx.note(`upload interrupted at about byte ${offset} (${(error as Error).message}); trying again in ${waitMs / 1000} s (${failures}/${run.retries})`);
      await ctx.io.sleep(waitMs);
      try {
        offset = (await api.get<UploadSession>(`/v1/uploads/${encodeURIComponent(session.id)}`)).offset;
        run.display.resumeAt(offset);
      } catch (statusError) {
        // Still away: the next chunk says where the server stands (a 409 with its offset) or fails again.
        if (!retryable(statusError) && !isUploadGone(statusError)) throw statusError;
      }
    }
  }
}

function percent(done: number, total: number): number {
  return total === 0 ? 100 : Math.floor((done * 100) / total);
}

export async function listPackages(ctx: CliContext, options: PackageListOptions): Promise<number> {
  const list = await (await ctx.api()).get<{ items: Package[]; total: number }>('/v1/packages', packageListQuery(options));
  ctx.result(list, () => formatPackageList(list, options.offset));
  return 0;
}

export async function showPackage(ctx: CliContext, id: string): Promise<number> {
  const pkg = await (await ctx.api()).get<Package>(`/v1/packages/${encodeURIComponent(id)}`);
  ctx.result(pkg, () => formatPackage(pkg));
  return 0;
}

/** Deletes a package (the server refuses while a task not yet completed uses it). */
export async function deletePackage(ctx: CliContext, id: string): Promise<number> {
  const deleted = await (await ctx.api()).delete<{ id: string; deletedAt: string; removedContentId: string | null }>(`/v1/packages/${encodeURIComponent(id)}`);
  ctx.result(deleted, () =>
    deleted.removedContentId
      ? `package ${deleted.id} deleted; its content ${deleted.removedContentId} was removed from the origin, and devices drop it from their caches at their next scan`
      : `package ${deleted.id} deleted`,
  );
  return 0;
}
