import type { Profile } from '../profile.ts';
import { profileSchema } from '../profile.ts';
import { apcRpduProfile } from './apc-rpdu.ts';
import { ifMibProfile } from './if-mib.ts';
import { raritanPxProfile } from './raritan-px.ts';

/** The profiles targets can name without defining them, parsed by the same schema as user profiles. */
export const BUILTIN_PROFILES: ReadonlyMap<string, Profile> = new Map([
  ['if_mib', profileSchema.parse(ifMibProfile)],
  ['raritan_px', profileSchema.parse(raritanPxProfile)],
  ['apc_rpdu', profileSchema.parse(apcRpduProfile)],
]);
