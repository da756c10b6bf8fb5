import { Initial1796280000000 } from './1796280000000-initial';

/** Every committed migration of the topology service, oldest first; never edit one that has shipped, add a new one. */
export const TOPOLOGY_MIGRATIONS = [Initial1796280000000];
