// Everything the embedded database needs from PGlite, in one module that openDatabase() imports
// only when it opens a PGlite target (the Lambda bundles leave PGlite out).
export { PGlite, types } from '@electric-sql/pglite';
export { vector } from '@electric-sql/pglite/vector';
export { pgcrypto } from '@electric-sql/pglite/contrib/pgcrypto';
