import { Initial1763769600000 } from './1763769600000-initial';
import { LanSessionKey1763856000000 } from './1763856000000-lan-session-key';
import { LanActivity1763942400000 } from './1763942400000-lan-activity';
import { LanIssue1764028800000 } from './1764028800000-lan-issue';
import { SigningKeys1764115200000 } from './1764115200000-signing-keys';
import { AssignmentResend1764201600000 } from './1764201600000-assignment-resend';
import { DeviceHistory1796420000000 } from './1796420000000-device-history';
import { PackageDeletion1796500000000 } from './1796500000000-package-deletion';
import { DeviceTaskAttempt1796550000000 } from './1796550000000-device-task-attempt';
import { SummaryIndexes1796600000000 } from './1796600000000-summary-indexes';
import { SubnetBytesHourly1796700000000 } from './1796700000000-subnet-bytes-hourly';
import { Swarm1796900000000 } from './1796900000000-swarm';
import { ConfidentialPackages1797000000000 } from './1797000000000-confidential-packages';
import { ParentBytesOffices1797100000000 } from './1797100000000-parent-bytes-offices';

/** Every committed migration of the tasks service, oldest first; never edit one that has shipped, add a new one. */
export const TASKS_MIGRATIONS = [
  Initial1763769600000,
  LanSessionKey1763856000000,
  LanActivity1763942400000,
  LanIssue1764028800000,
  SigningKeys1764115200000,
  AssignmentResend1764201600000,
  DeviceHistory1796420000000,
  PackageDeletion1796500000000,
  DeviceTaskAttempt1796550000000,
  SummaryIndexes1796600000000,
  SubnetBytesHourly1796700000000,
  Swarm1796900000000,
  ConfidentialPackages1797000000000,
  ParentBytesOffices1797100000000,
];
