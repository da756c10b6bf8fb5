import { Initial1795309873819 } from './1795309873819-initial';
import { AgentVersionStatus1795400000000 } from './1795400000000-agent-version-status';

/** Every committed migration of the inventory, oldest first; never edit one that has shipped, add a new one. */
export const INVENTORY_MIGRATIONS = [Initial1795309873819, AgentVersionStatus1795400000000];
