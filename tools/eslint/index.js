// The repository's own ESLint rules, as a plugin (`marvain/<rule>` in eslint.config.mjs).
'use strict';

module.exports = {
  meta: { name: 'eslint-plugin-marvain' },
  rules: { 'test-file-names': require('./test-file-names') },
};
