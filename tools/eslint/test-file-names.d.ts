// Types of test-file-names.js (CommonJS, loaded by eslint.config.mjs and by its spec).
import type { Rule } from 'eslint';

declare const rule: Rule.RuleModule;
export = rule;
