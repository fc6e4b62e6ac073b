// `npm test` runs every project's jest config in one runner (one worker pool for the whole workspace).
const { readdirSync, existsSync } = require('node:fs');
const path = require('node:path');

const projects = ['apps', 'libs', 'tools'].flatMap((dir) =>
  readdirSync(path.join(__dirname, dir))
    .map((name) => path.join(__dirname, dir, name, 'jest.config.js'))
    .filter((file) => existsSync(file)),
);

module.exports = { projects, testTimeout: 60000 };
