import { Initial1796400000000 } from './1796400000000-initial';

/** Every committed migration of the webhooks service, oldest first; never edit one that has shipped, add a new one. */
export const WEBHOOKS_MIGRATIONS = [Initial1796400000000];
