import { generateKeyPairSync } from 'node:crypto';
import type { LanClaimTicket } from '@fleetcast/contracts';
import { createClaimSigner, createClaimVerifier, rawPublicKeyOf } from '@fleetcast/lan-protocol';
import { pinnedKey, PinnedKeySet } from '../core/key-set';
import type { SessionClaims } from './udp-multicast';

/**
 * The agent's key for claiming LAN sessions (lan-protocol `auth/claim-proof.ts`): made at start and
 * kept in memory only, so a copy of the state directory claims nothing. The control plane binds it
 * to this device in a ticket with each LAN session it answers (over the device's own NATS user).
 */
export class LanClaimKey {
  private readonly keys = generateKeyPairSync('ed25519');
  private readonly signer = createClaimSigner(this.keys.privateKey);
  /** The public half, raw and base64: what the LAN session query sends. */
  readonly publicKey = Buffer.from(rawPublicKeyOf(this.keys.publicKey)).toString('base64');

  /**
   * The claims of one task's session: signed with this key under `ticket` (none: this device must
   * not claim), and every other device's claim checked against the control-plane keys pinned now.
   */
  sessionClaims(taskId: string, ticket: LanClaimTicket | undefined, pinned: PinnedKeySet): SessionClaims {
    return {
      credentials:
        ticket === undefined
          ? null
          : {
              proof: {
                keyId: ticket.keyId,
                devicePublicKey: rawPublicKeyOf(this.keys.publicKey),
                notAfter: ticket.notAfter,
                ticketSignature: new Uint8Array(Buffer.from(ticket.signature, 'base64')),
              },
              signer: this.signer,
            },
      verify: createClaimVerifier({ taskId, trustedKey: (keyId) => pinnedKey(pinned, keyId) }),
    };
  }
}
