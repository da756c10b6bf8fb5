/**
 * Constants of the subnet multicast protocol, each with the reason for its value.
 * Wire numbers are big-endian (network order) throughout.
 */

/** "FC": lets a receiver drop foreign traffic on the same group and port before any other work. */
export const PACKET_MAGIC = 0x4643;

/**
 * Version 1 of the packet format. A change of any packet's shape is a new version, never an edit:
 * a device decodes only the versions it knows and reports the others as UNSUPPORTED_VERSION, so two
 * agent releases on one subnet never misread each other.
 */
export const PROTOCOL_VERSION = 1;

/**
 * Version 2: version 1's layout with a 16-byte authentication tag between the body and the CRC
 * (HMAC-SHA-256 under the task's LAN key, which reaches devices over NATS, never over the LAN).
 * A decoder holding a key accepts only version 2; one without a key only version 1, so an
 * authenticated session can never be fed unauthenticated packets by downgrading the version byte.
 */
export const AUTHENTICATED_PROTOCOL_VERSION = 2;

/**
 * Authentication tag: HMAC-SHA-256 truncated to 128 bits (RFC 2104 5 allows truncation to half the
 * output or more; 128 bits is what RFC 4868 uses for IPsec). A forger needs ~2^127 tries per
 * packet, and each try costs a datagram that is counted.
 */
export const AUTH_TAG_BYTES = 16;

/** Session ID: the first 8 bytes of SHA-256 over the task ID (task IDs are 1-64 characters, not always UUIDs). */
export const SESSION_ID_BYTES = 8;
/** Sender ID: the first 8 bytes of SHA-256 over the device ID; 2^32 devices before a collision is likely. */
export const SENDER_ID_BYTES = 8;

/** magic (2) + version (1) + type (1) + session ID (8) + sender ID (8). */
export const HEADER_BYTES = 2 + 1 + 1 + SESSION_ID_BYTES + SENDER_ID_BYTES;
/** CRC32C trailer over every byte before it. */
export const TRAILER_BYTES = 4;
/** Fixed cost of every packet. */
export const PACKET_OVERHEAD_BYTES = HEADER_BYTES + TRAILER_BYTES;

/**
 * Largest packet we send or accept: a 1500-byte Ethernet MTU less a 40-byte IPv6 header and an
 * 8-byte UDP header = 1452 bytes, so no datagram is ever fragmented, on IPv4 (20-byte header,
 * 1472 available) or IPv6. One lost fragment loses the whole datagram, so fragmentation would
 * multiply the loss rate by the fragment count.
 */
export const MAX_PACKET_BYTES = 1500 - 40 - 8;

/** block (4) + group (2) + index in group (1): the address of a DATA or PARITY symbol. */
export const SYMBOL_ADDRESS_BYTES = 4 + 2 + 1;

/** Largest symbol a DATA or PARITY packet can carry: 1452 - 20 (header) - 7 (address) - 4 (CRC) = 1421. */
export const MAX_SYMBOL_BYTES = MAX_PACKET_BYTES - PACKET_OVERHEAD_BYTES - SYMBOL_ADDRESS_BYTES;

/** Largest symbol of an authenticated (version 2) DATA or PARITY packet: 1421 - 16 (tag) = 1405. */
export const MAX_AUTHENTICATED_SYMBOL_BYTES = MAX_SYMBOL_BYTES - AUTH_TAG_BYTES;

/**
 * Default symbol size: 1400 bytes, so a DATA datagram is 1431 bytes of UDP payload (1459 bytes as
 * IPv4, 1479 as IPv6), under the 1500-byte MTU with 21 bytes to spare for a PPPoE or VLAN-reduced
 * path (5 once a version 2 packet adds its 16-byte tag). A multiple of 8, as word-wise erasure coders require. Sessions announce their own size.
 */
export const DEFAULT_SYMBOL_BYTES = 1400;

/**
 * Default data symbols per FEC group (k). 128 x 1400 bytes = 179 KB a group: 6 groups per 1 MiB
 * block (the last of 109). The sender repairs each group with as many parity symbols as its worst
 * receiver lost, and the worst of many receivers over a large group is closer to the average loss
 * than over a small one: on loopback at 5 % loss with 3 receivers, parity fell from 1.57x the worst
 * receiver's loss (k = 32) to 1.30x (k = 128). 128 is the largest k with k <= 256 - k: a group
 * keeps as many parity indexes as it has data symbols, so even a receiver that lost a whole group
 * (a burst of drops at a receive buffer that overflowed) is repaired by parity. Larger groups send
 * fewer LAN bytes (k = 188: 1.141x and 1.143x the content in the lab, 12 devices at 5 % loss,
 * against 1.154x and 1.157x), but leave 68 parity indexes: in a CI run on a loaded loopback
 * receivers lost more than that of a group in a burst, the session closed short and one device
 * fetched from the origin. A device's copy crossing the WAN once more costs far more than 1 % of
 * LAN bytes.
 */
export const DEFAULT_GROUP_DATA_SYMBOLS = 128;

/**
 * The Cauchy Reed-Solomon code over GF(2^8) has 256 field elements: data symbols take the
 * evaluation points 0..k-1 and parity symbols k..255, so k + (parity indexes) <= 256.
 */
export const MAX_CODE_SYMBOLS = 256;

/** A NACK entry: block (4) + first group (2) + group count (2) + missing symbols per group (1). */
export const NACK_ENTRY_BYTES = 9;
/**
 * Entries in one NACK. (1452 - 24 - 1 count byte) / 9 = 158 fit; 128 leaves room and keeps the
 * sender's per-NACK work bounded. A receiver with more holes sends the rest in its next NACK.
 */
export const MAX_NACK_ENTRIES = 128;

/**
 * The claim proof that ends a signed ANNOUNCE or CLAIM: control-plane key ID (8) + the claimant's
 * Ed25519 public key (32) + the ticket's expiry in Unix seconds (4) + the control plane's ticket
 * signature (64) + the claimant's signature over the packet before it (64) = 172 bytes. A signed
 * ANNOUNCE is then 20 + 70 + 172 + 16 + 4 = 282 bytes: one a second per session.
 */
export const CLAIM_PROOF_BYTES = 8 + 32 + 4 + 64 + 64;
/** An Ed25519 signature (RFC 8032 5.1.6). */
export const ED25519_SIGNATURE_BYTES = 64;
/** An Ed25519 public key, raw (RFC 8032 5.1.5). */
export const ED25519_PUBLIC_KEY_BYTES = 32;
/** Bytes of a control-plane key ID: the first 8 bytes of SHA-256 over the key's SPKI DER (`keyIdOf`). */
export const CONTROL_PLANE_KEY_ID_BYTES = 8;

/** A PEER_HAVE range: first block (4) + block count (4). */
export const HAVE_RANGE_BYTES = 8;
/**
 * Ranges in one PEER_HAVE. (1452 - 24 - 2 port - 1 count) / 8 = 178 fit; 128 is a round bound.
 * A device whose holdings are more fragmented sends several PEER_HAVE packets (they add up).
 */
export const MAX_HAVE_RANGES = 128;

/**
 * IP TTL of every multicast packet: 1. Routers never forward a TTL-1 datagram (RFC 1112 6.1), so
 * a session stays on its link: exactly the "one representative per subnet" scope, and no router
 * configuration is ever needed.
 */
export const MULTICAST_TTL = 1;

/**
 * Default IPv4 group: inside 239.255.0.0/16, the IPv4 Local Scope of administratively scoped
 * multicast (RFC 2365 6.1), which never leaves the site; .70.67 is "FC" in ASCII. Configurable.
 */
export const DEFAULT_MULTICAST_GROUP_V4 = '239.255.70.67';

/**
 * Default UDP port of the multicast session (every packet type shares it; the type byte demuxes).
 * Below the ephemeral range 49152-65535 (RFC 6335 6), so an OS never hands it to an outgoing socket.
 */
export const DEFAULT_MULTICAST_PORT = 47470;
/** Default port a device serves peer repair on (unicast, verified blocks), announced in PEER_HAVE. */
export const DEFAULT_PEER_PORT = 47471;

/** Weight of a device that must never be the representative. */
export const NEVER_REPRESENTATIVE_WEIGHT = 0;
/** Weights are one byte: 1..255, higher wins (wired over Wi-Fi, desktop over laptop). */
export const MAX_WEIGHT = 255;
