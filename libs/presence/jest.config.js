module.exports = { ...require('../../jest.preset.js'), displayName: 'presence', rootDir: __dirname };
