module.exports = { ...require('../../jest.preset.js'), displayName: 'livekit', rootDir: __dirname };
