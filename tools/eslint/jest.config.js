// The repository's ESLint rules' own tests (tools/eslint/*.spec.ts); part of `npm test`.
module.exports = {
  ...require('../../jest.preset.js'),
  displayName: 'eslint-rules',
  rootDir: __dirname,
  testMatch: ['<rootDir>/*.spec.ts'],
};
