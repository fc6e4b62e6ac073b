// Shared jest settings: swc (.swcrc) keeps decorator metadata (Nest DI needs it); paths come from tsconfig.base.json.
const path = require('node:path');
const { readFileSync } = require('node:fs');
const { compilerOptions } = require('./tsconfig.base.json');

// `$schema` is for editors; swc itself rejects unknown keys.
const swcrc = JSON.parse(readFileSync(path.join(__dirname, '.swcrc'), 'utf8'));
delete swcrc.$schema;

const moduleNameMapper = {};
for (const [alias, [target]] of Object.entries(compilerOptions.paths)) {
  moduleNameMapper[`^${alias.replace('/', '\\/')}$`] = path.join(__dirname, target);
}

module.exports = {
  testEnvironment: 'node',
  // The repository's one swc configuration (.swcrc, shared with the bundle and editors); jest picks the
  // module format itself.
  transform: { '^.+\\.ts$': ['@swc/jest', { ...swcrc, swcrc: false, sourceMaps: 'inline' }] },
  moduleFileExtensions: ['ts', 'js', 'json'],
  moduleNameMapper,
  testMatch: ['<rootDir>/src/**/*.spec.ts'],
  setupFiles: [path.join(__dirname, 'tools/jest/setup.js')],
};
