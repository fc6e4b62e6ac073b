// The SAM template's offline validation (tools/sam/template.spec.ts).
module.exports = {
  ...require('../../jest.preset.js'),
  displayName: 'sam',
  rootDir: __dirname,
  testMatch: ['<rootDir>/**/*.spec.ts'],
};
