module.exports = { ...require('../../jest.preset.js'), displayName: 'platform-aws', rootDir: __dirname };
