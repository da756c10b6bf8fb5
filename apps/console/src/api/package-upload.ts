import type { Package } from '@fleetcast/contracts';
import { apiErrorOf, ApiError } from './api-client';

/**
 * Sends a package's content: today's single request, `PUT /v1/packages/:id/content` with the raw
 * bytes, through XMLHttpRequest because fetch reports no upload progress. The only place the
 * console uploads, so that a resumable protocol (chunks with an offset) can replace it without the
 * page changing: the page needs `onProgress`, the ready package, and a way to abort.
 */
export interface UploadHandle {
  done: Promise<Package>;
  abort(): void;
}

export interface UploadCallbacks {
  /** Bytes sent so far out of the total, as the browser reports them. */
  onProgress(loaded: number, total: number): void;
  /** Every byte is out; the answer (the ready package) follows once the origin has hashed them. */
  onSent(): void;
}

export function uploadPackageContent(token: string, packageId: string, file: Blob, callbacks: UploadCallbacks): UploadHandle {
  const xhr = new XMLHttpRequest();
  const done = new Promise<Package>((resolve, reject) => {
    xhr.open('PUT', `/v1/packages/${encodeURIComponent(packageId)}/content`);
    xhr.setRequestHeader('authorization', `Bearer ${token}`);
    xhr.setRequestHeader('content-type', 'application/octet-stream');
    xhr.upload.onprogress = (e) => callbacks.onProgress(e.loaded, e.lengthComputable ? e.total : file.size);
    xhr.upload.onload = () => {
      callbacks.onProgress(file.size, file.size);
      callbacks.onSent();
    };
    xhr.onload = () => {
      if (xhr.status >= 200 && xhr.status < 300) resolve(JSON.parse(xhr.responseText) as Package);
      else reject(apiErrorOf(xhr.status, xhr.responseText));
    };
    xhr.onerror = () => reject(new ApiError(0, 'NETWORK', 'the upload was cut off: the gateway did not answer'));
    xhr.onabort = () => reject(new ApiError(0, 'ABORTED', 'the upload was cancelled'));
    xhr.send(file);
  });
  return { done, abort: () => xhr.abort() };
}
