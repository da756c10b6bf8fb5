import { z } from 'zod';
import { idSchema, sha256HexSchema } from './common';

/**
 * Resumable uploads through the API gateway (`/v1/uploads`), tus-like: create one for a package
 * with its size, send the bytes with `PATCH` and an `Upload-Offset` header (where the chunk starts),
 * `HEAD` it after a break to learn where to resume. The last byte finishes it: the package becomes
 * ready, exactly as after `PUT /v1/packages/{id}/content`.
 */
export const createUploadSchema = z.object({
  packageId: idSchema,
  /** The whole content's size in bytes. */
  size: z.number().int().nonnegative(),
  /** SHA-256 of the whole content, 64 hex characters: checked when the last byte is in; a mismatch keeps nothing. */
  sha256: sha256HexSchema.optional(),
});
export type CreateUpload = z.infer<typeof createUploadSchema>;

export const uploadSessionSchema = z.object({
  id: z.string(),
  packageId: idSchema,
  size: z.number().int().nonnegative(),
  /** Bytes received so far: where the next chunk starts. */
  offset: z.number().int().nonnegative(),
  sha256: sha256HexSchema.nullable(),
  createdAt: z.string(),
  /** An upload left alone until then is removed with what it received. */
  expiresAt: z.string(),
});
export type UploadSession = z.infer<typeof uploadSessionSchema>;

/** Headers of the protocol (lowercase, as Node delivers them), as tus 1.0 names them. */
export const UploadHeader = {
  offset: 'upload-offset',
  length: 'upload-length',
  expires: 'upload-expires',
} as const;

/**
 * Seals stored content for a confidential package (`POST /v1/content/{contentId}/seal` at the
 * origin, called by the tasks service with the origin's API token): the origin encrypts it block by
 * block under `key` and stores the result as content of its own, which is what it answers
 * (a `contentDescriptorSchema`). The key is used for this request only and never stored or logged.
 */
export const sealContentSchema = z.object({
  /** The package the sealed blocks are bound to (part of every block's additional data). */
  packageId: idSchema,
  /** The content key, 32 bytes, base64. */
  key: z.string().length(44),
  /** Remove the plaintext once sealed (when no other package has the same bytes). */
  removeSource: z.boolean(),
});
export type SealContent = z.infer<typeof sealContentSchema>;
