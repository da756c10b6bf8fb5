import { Initial1796263074147 } from './1796263074147-initial';
import { Enrollment1796270000000 } from './1796270000000-enrollment';
import { Activation1796410000000 } from './1796410000000-activation';

/** Every committed migration of the licensing service, oldest first; never edit one that has shipped, add a new one. */
export const LICENSING_MIGRATIONS = [Initial1796263074147, Enrollment1796270000000, Activation1796410000000];
