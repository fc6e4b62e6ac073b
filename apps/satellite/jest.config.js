module.exports = { ...require('../../jest.preset.js'), displayName: 'satellite', rootDir: __dirname };
