export * from './spaces.service';
export * from './spaces.module';
export * from './people.service';
export * from './consent.service';
export {
  CONSENT_TYPES,
  CONSENT_STATUSES,
  consentStatus,
  type ConsentType,
  type ConsentStatus,
  type ConsentView,
} from './consent.dto';
export { SpaceIdParams, type SpaceView } from './spaces.dto';
export type { PersonView } from './people.dto';
export type { PersonRow } from './people.repository';
export type { ConsentGrantRow } from './consent.repository';
