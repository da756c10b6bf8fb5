import type { Package } from '@fleetcast/contracts';

/**
 * A package upload as the packages page shows it: the package is created, then its content sent
 * with progress, then it is ready (or it failed, saying why). A pure reducer over the upload's events.
 */
export type UploadState =
  | { phase: 'idle' }
  | { phase: 'creating'; fileName: string; total: number }
  | { phase: 'uploading'; fileName: string; packageId: string; loaded: number; total: number }
  | { phase: 'processing'; fileName: string; packageId: string; total: number }
  | { phase: 'done'; fileName: string; pkg: Package }
  | { phase: 'failed'; fileName: string; message: string; packageId: string | null };

export type UploadEvent =
  | { type: 'start'; fileName: string; total: number }
  | { type: 'created'; packageId: string }
  | { type: 'progress'; loaded: number; total: number }
  | { type: 'sent' }
  | { type: 'done'; pkg: Package }
  | { type: 'failed'; message: string };

export const idleUpload: UploadState = { phase: 'idle' };

export function reduceUpload(state: UploadState, event: UploadEvent): UploadState {
  switch (event.type) {
    case 'start':
      return { phase: 'creating', fileName: event.fileName, total: event.total };
    case 'created':
      if (state.phase !== 'creating') return state;
      return { phase: 'uploading', fileName: state.fileName, packageId: event.packageId, loaded: 0, total: state.total };
    case 'progress':
      if (state.phase !== 'uploading') return state;
      // Progress only goes forward: a late event from the browser does not move the bar back.
      return { ...state, loaded: Math.max(state.loaded, Math.min(event.loaded, event.total)), total: event.total };
    case 'sent':
      // Every byte is out; the origin hashes the last of them and the manifest is signed.
      if (state.phase !== 'uploading') return state;
      return { phase: 'processing', fileName: state.fileName, packageId: state.packageId, total: state.total };
    case 'done':
      if (state.phase === 'idle' || state.phase === 'done' || state.phase === 'failed') return state;
      return { phase: 'done', fileName: state.fileName, pkg: event.pkg };
    case 'failed':
      if (state.phase === 'idle') return state;
      return { phase: 'failed', fileName: state.fileName, message: event.message, packageId: 'packageId' in state ? state.packageId : null };
  }
}

/** The progress bar's value, 0..100: 100 once every byte is sent. */
export function uploadPercent(state: UploadState): number {
  switch (state.phase) {
    case 'uploading':
      return state.total > 0 ? Math.floor((state.loaded / state.total) * 100) : 0;
    case 'processing':
    case 'done':
      return 100;
    default:
      return 0;
  }
}

export function isUploadBusy(state: UploadState): boolean {
  return state.phase === 'creating' || state.phase === 'uploading' || state.phase === 'processing';
}
