// The local RDS Data API endpoint's own tests (tools/data-api/*.spec.ts); part of `npm test`.
module.exports = {
  ...require('../../jest.preset.js'),
  displayName: 'data-api',
  rootDir: __dirname,
  testMatch: ['<rootDir>/*.spec.ts'],
};
