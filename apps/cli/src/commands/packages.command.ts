import type { Package } from '@fleetcast/contracts';
import { UsageError } from '../errors';
import { formatBytes, formatPackage, formatPackageList } from '../output/format';
import { TransferDisplay } from '../progress/progress-display';
import { CliContext } from './cli-context';
import { fileChunks, fileSizeOf, sha256OfFile } from './file-source';
import { createPackageRequest, PackageUploadOptions, PageOptions, pageQuery } from './requests';

export interface UploadOptions extends PackageUploadOptions {
  /** Upload to this existing package (one still awaiting content) instead of creating one. */
  package?: string;
}

/**
 * Creates the package (unless `--package` names one), hashes the file, then streams it to
 * `PUT /v1/packages/{id}/content` with the hash declared: the origin refuses a body that does not
 * match and stores nothing. The file is read twice rather than held: flat memory for any size.
 */
export async function uploadPackage(ctx: CliContext, file: string, options: UploadOptions): Promise<number> {
  const request = options.package ? undefined : createPackageRequest(options);
  const size = await fileSizeOf(file);
  const api = await ctx.api();

  const hashing = new TransferDisplay('sha256', size, ctx.io.stderr, ctx.io.now);
  const sha256 = await sha256OfFile(file, (n) => hashing.add(n));
  hashing.finish();

  const created = request ? await api.post<Package>('/v1/packages', request) : await api.get<Package>(`/v1/packages/${encodeURIComponent(options.package!)}`);
  if (!request && created.status === 'ready') throw new UsageError(`package ${created.id} already has its content (${created.contentId}): create a new package`);
  if (request) ctx.note(`package ${created.id} created (${created.name} ${created.version}); uploading ${formatBytes(size)}, sha256 ${sha256}`);

  const upload = new TransferDisplay('upload', size, ctx.io.stderr, ctx.io.now);
  let ready: Package;
  try {
    ready = await api.uploadContent<Package>(created.id, { chunks: fileChunks(file, (n) => upload.add(n)), size, sha256 });
  } catch (error) {
    upload.finish();
    // The package stays, awaiting content: say how to upload again instead of creating another.
    ctx.note(`the upload did not complete; package ${created.id} awaits its content: fleetcast packages upload ${file} --package ${created.id}`);
    throw error;
  }
  upload.finish();
  ctx.result(ready, () => `${formatPackage(ready)}\npackage ${ready.id} is ready`);
  return 0;
}

export async function listPackages(ctx: CliContext, options: PageOptions): Promise<number> {
  const list = await (await ctx.api()).get<{ items: Package[]; total: number }>('/v1/packages', pageQuery(options));
  ctx.result(list, () => formatPackageList(list, options.offset));
  return 0;
}

export async function showPackage(ctx: CliContext, id: string): Promise<number> {
  const pkg = await (await ctx.api()).get<Package>(`/v1/packages/${encodeURIComponent(id)}`);
  ctx.result(pkg, () => formatPackage(pkg));
  return 0;
}
