module.exports = { ...require('../../jest.preset.js'), displayName: 'spaces', rootDir: __dirname };
