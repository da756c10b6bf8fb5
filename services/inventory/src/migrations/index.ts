import { Initial1795309873819 } from './1795309873819-initial';

/** Every committed migration of the inventory, oldest first; never edit one that has shipped, add a new one. */
export const INVENTORY_MIGRATIONS = [Initial1795309873819];
