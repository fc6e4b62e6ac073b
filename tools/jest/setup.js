// Nest decorators read metadata through reflect-metadata; load it once per test file.
require('reflect-metadata');
