export * from './audit.types';
export * from './audit.service';
export * from './audit.module';
export * from './schema-auditor';
