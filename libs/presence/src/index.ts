export * from './presence.service';
export * from './presence.module';
export * from './maintenance';
export type { PresenceKey, PresenceSubjectType } from './presence.repository';
export { PresenceList } from './presence.dto';
