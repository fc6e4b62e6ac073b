export * from './schema';
export * from './casts';
export * from './database';
export * from './transaction';
export * from './migrator';
export { splitSqlStatements } from './sql-split';
export * from './db.module';
export * from './keyset';
export * from './database-identity';
