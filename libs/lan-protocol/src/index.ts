// Wire format: constants, checksum, packets (pure, no Node modules).
export * from './protocol/constants';
export * from './protocol/crc32c';
export * from './protocol/ids';
export * from './protocol/packet-errors';
export * from './protocol/packets';
export * from './protocol/symbol-size';
// Pure state machines and coding.
export * from './core/block-layout';
export * from './core/election';
export * from './core/fec';
export * from './core/lan-session';
export * from './core/gf256';
export * from './core/gf256-simd';
export * from './core/rate-control';
export * from './core/receiver-session';
export * from './core/repair';
export * from './core/sender-session';
export * from './core/seeded-random';
export * from './core/session-deadline';
// Packet authentication under a task's LAN key (HMAC-SHA-256 from node:crypto).
export * from './auth/packet-auth';
// Claim proofs: tickets from the control plane and the claimant's signature (Ed25519 from node:crypto).
export * from './auth/claim-proof';
// IDs derived from the control plane's IDs (SHA-256 from node:crypto).
export * from './session-ids';
