import { ServiceDataSourceOptions } from '@fleetcast/persistence';
import { Initial1763769600000 } from './migrations/1763769600000-initial';
import { LanSessionKey1763856000000 } from './migrations/1763856000000-lan-session-key';
import { LanActivity1763942400000 } from './migrations/1763942400000-lan-activity';
import { LanIssue1764028800000 } from './migrations/1764028800000-lan-issue';
import { SigningKeys1764115200000 } from './migrations/1764115200000-signing-keys';
import { AssignmentResend1764201600000 } from './migrations/1764201600000-assignment-resend';

/** The tasks service owns the `tasks` schema. */
export const TASKS_SCHEMA = 'tasks';

export function tasksDataSourceOptions(url: string, poolSize?: number): ServiceDataSourceOptions {
  return { url, schema: TASKS_SCHEMA, entities: [], migrations: [Initial1763769600000, LanSessionKey1763856000000, LanActivity1763942400000, LanIssue1764028800000, SigningKeys1764115200000, AssignmentResend1764201600000], poolSize };
}
