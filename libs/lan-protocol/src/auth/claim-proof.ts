import { createPublicKey, KeyObject, sign, verify } from 'node:crypto';
import { ED25519_PUBLIC_KEY_BYTES, SENDER_ID_BYTES } from '../protocol/constants';
import { PacketErrorCode } from '../protocol/packet-errors';
import type { AnnouncePacket, ClaimPacket, ClaimProof, ClaimSigner, ReceivedClaimProof } from '../protocol/packets';

/**
 * Claim proofs: who may say "I am the representative" on a subnet.
 *
 * Every device of a task holds the task's LAN key, so the packet tag alone cannot tell one device of
 * the task from another: any of them could ANNOUNCE under any sender ID, outrank the real
 * representative and hold the session. A claim proof closes that:
 * - the control plane issues a **ticket** to a device that asks for the task's LAN session over its
 *   own NATS user: its Ed25519 signature over (task, the device's sender ID, a public key the device
 *   made, an expiry). Only a target of the task gets one, and only for its own sender ID;
 * - the device's signed ANNOUNCE and CLAIM carry the ticket and are signed with the ticket's key;
 * - a device that follows checks both against the control-plane keys it pinned at enrollment.
 * A forged or borrowed claim is dropped before the election sees it (PACKET.BAD_CLAIM). A target of
 * the task can still claim as itself and then send nothing: the follower's session deadline covers
 * that (`core/session-deadline.ts`, applied by the session reducer `core/lan-session.ts`), and its report names the device.
 */

/** Domain tags, so that a ticket or a claim signature can never be taken for another signed document. */
const TICKET_DOMAIN = 'fleetcast-lan-ticket-v1\0';
const CLAIM_DOMAIN = 'fleetcast-lan-claim-v1\0';

/**
 * Clock difference tolerated on a ticket's expiry: the control plane and the device each read their
 * own clock; five minutes, as for assignments (the agent's CLOCK_SKEW_MS, Kerberos' tolerance).
 */
export const CLAIM_CLOCK_SKEW_SECONDS = 5 * 60;

/** Verified tickets remembered per session: an ANNOUNCE a second needs one ticket check, not one each. */
const TICKET_CACHE_ENTRIES = 1024;

export interface LanTicket {
  taskId: string;
  /** 16 lowercase hex characters (`senderIdOf(deviceId)`). */
  senderId: string;
  /** Raw Ed25519 public key, 32 bytes. */
  devicePublicKey: Uint8Array;
  /** Unix seconds. */
  notAfter: number;
}

/** The bytes a ticket's signature covers. */
export function lanTicketSigningBytes(ticket: LanTicket): Buffer {
  const task = Buffer.from(ticket.taskId, 'utf8');
  if (task.length > 0xffff) throw new RangeError('a task ID is at most 65535 bytes');
  if (!/^[0-9a-f]+$/.test(ticket.senderId) || ticket.senderId.length !== SENDER_ID_BYTES * 2) throw new RangeError(`senderId must be ${SENDER_ID_BYTES * 2} lowercase hex characters`);
  if (ticket.devicePublicKey.length !== ED25519_PUBLIC_KEY_BYTES) throw new RangeError(`a device key is ${ED25519_PUBLIC_KEY_BYTES} bytes`);
  if (!Number.isInteger(ticket.notAfter) || ticket.notAfter < 0 || ticket.notAfter > 0xffffffff) throw new RangeError('notAfter must be Unix seconds that fit 32 bits');
  const head = Buffer.alloc(2);
  head.writeUInt16BE(task.length);
  const tail = Buffer.alloc(4);
  tail.writeUInt32BE(ticket.notAfter);
  return Buffer.concat([Buffer.from(TICKET_DOMAIN, 'utf8'), head, task, Buffer.from(ticket.senderId, 'hex'), ticket.devicePublicKey, tail]);
}

/** The control plane's side: signs a ticket with its active signing key. */
export function signLanTicket(ticket: LanTicket, privateKey: KeyObject): Uint8Array {
  return new Uint8Array(sign(null, lanTicketSigningBytes(ticket), privateKey));
}

/** A device's side: signs its signed ANNOUNCE and CLAIM with the private half of the ticket's key. */
export function createClaimSigner(privateKey: KeyObject): ClaimSigner {
  const domain = Buffer.from(CLAIM_DOMAIN, 'utf8');
  return (bytes) => new Uint8Array(sign(null, Buffer.concat([domain, bytes]), privateKey));
}

/** The raw 32 bytes of an Ed25519 public key (what a ticket binds and a proof carries). */
export function rawPublicKeyOf(publicKey: KeyObject): Uint8Array {
  const jwk = publicKey.export({ format: 'jwk' });
  if (jwk.crv !== 'Ed25519' || typeof jwk.x !== 'string') throw new RangeError('not an Ed25519 public key');
  return new Uint8Array(Buffer.from(jwk.x, 'base64url'));
}

/** An Ed25519 public key from its raw 32 bytes; throws RangeError for anything else. */
export function publicKeyFromRaw(raw: Uint8Array): KeyObject {
  if (raw.length !== ED25519_PUBLIC_KEY_BYTES) throw new RangeError(`an Ed25519 public key is ${ED25519_PUBLIC_KEY_BYTES} bytes, got ${raw.length}`);
  return createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x: Buffer.from(raw).toString('base64url') }, format: 'jwk' });
}

/** What a device sends with its own claims: its ticket and the key it signs with. */
export interface ClaimCredentials {
  proof: ClaimProof;
  signer: ClaimSigner;
}

export interface ClaimVerifierOptions {
  taskId: string;
  /** A control-plane key this device trusts (pinned, not retired) by key ID, or undefined. */
  trustedKey: (keyId: string) => KeyObject | undefined;
  /** Unix milliseconds; the clock by default. */
  now?: () => number;
}

export interface ClaimRejection {
  code: typeof PacketErrorCode.BadClaim;
  message: string;
}

/**
 * Checks ANNOUNCE and CLAIM packets of one session: null when the proof holds, else why not.
 * Packets of other types pass (null): only a claim to represent needs a proof.
 */
export function createClaimVerifier(options: ClaimVerifierOptions): (packet: { type: string } & Partial<Pick<AnnouncePacket | ClaimPacket, 'proof' | 'senderId'>>) => ClaimRejection | null {
  const now = options.now ?? Date.now;
  /** Tickets already checked, with the sender they were for; a bounded set. */
  const tickets = new Map<string, string>();
  const domain = Buffer.from(CLAIM_DOMAIN, 'utf8');
  return (packet) => {
    if (packet.type !== 'announce' && packet.type !== 'claim') return null;
    const proof = packet.proof as ReceivedClaimProof | undefined;
    if (proof === undefined || proof.signature === undefined) return reject(`an unsigned ${packet.type.toUpperCase()}: this session accepts only claims the control plane vouches for`);
    const senderId = packet.senderId as string;
    if (proof.notAfter + CLAIM_CLOCK_SKEW_SECONDS < now() / 1000) return reject(`the ticket of ${senderId} expired at ${new Date(proof.notAfter * 1000).toISOString()}`);
    // Every field the ticket signature covers, besides the task (the session's own): a cached ticket
    // cannot lend its check to another key or expiry.
    const ticketId = `${proof.keyId}:${Buffer.from(proof.devicePublicKey).toString('base64')}:${proof.notAfter}:${Buffer.from(proof.ticketSignature).toString('base64')}`;
    if (tickets.get(ticketId) !== senderId) {
      const key = options.trustedKey(proof.keyId);
      if (key === undefined) return reject(`the ticket of ${senderId} is signed by key ${proof.keyId}, which this device does not trust`);
      const ticket = { taskId: options.taskId, senderId, devicePublicKey: proof.devicePublicKey, notAfter: proof.notAfter };
      if (!verify(null, lanTicketSigningBytes(ticket), key, proof.ticketSignature)) return reject(`the ticket of ${senderId} is not the control plane's for this task and sender`);
      if (tickets.size >= TICKET_CACHE_ENTRIES) tickets.delete(tickets.keys().next().value as string);
      tickets.set(ticketId, senderId);
    }
    let deviceKey: KeyObject;
    try {
      deviceKey = publicKeyFromRaw(proof.devicePublicKey);
    } catch (error) {
      return reject(`the ticket of ${senderId} names no usable key (${(error as Error).message})`);
    }
    if (!verify(null, Buffer.concat([domain, proof.signedBytes]), deviceKey, proof.signature)) return reject(`the ${packet.type.toUpperCase()} of ${senderId} is not signed with its ticket's key`);
    return null;
  };
}

function reject(message: string): ClaimRejection {
  return { code: PacketErrorCode.BadClaim, message };
}
