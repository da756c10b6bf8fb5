// The follower's deadline belongs to the LAN session reducer (lan-protocol `core/lan-session.ts`), which applies it.
export { FOLLOW_STALL_MS, HELD_BLOCKS_FLOOR_BYTES_PER_SECOND, followDeadlineMs, stallAllowanceMs } from '@fleetcast/lan-protocol';
export type { FollowDeadlineOptions, FollowWatch } from '@fleetcast/lan-protocol';
