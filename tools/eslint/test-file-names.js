// ESLint rule `marvain/test-file-names`: a test file's name says which runs pick it up.
// jest runs `*.spec.ts` only; `npm run test:pg` and `npm run test:data-api` select the database and
// end-to-end tests by their `*.db.spec.ts` / `*.e2e.spec.ts` suffix, so a misnamed file silently
// escapes them. CommonJS, so ESLint's config and the rule's jest spec load the same file.
'use strict';

const path = require('node:path');

const TEST_CALLS = new Set(['describe', 'it', 'test']);

/** What opens the test database or starts a hub: module specifiers (tested as regexps) and imported names. */
const DEFAULT_OPENERS = {
  modules: ['^@marvain/db/testing$', '/hub-test-server$', '/hub-process$'],
  names: ['createTestDatabase'],
};

/** `describe`, `it.each`, `test.only.each(...)(...)`: the identifier the call chain starts from. */
function rootCallee(node) {
  let current = node.callee;
  for (;;) {
    if (current.type === 'CallExpression') {
      current = current.callee;
    } else if (current.type === 'MemberExpression') {
      current = current.object;
    } else if (current.type === 'TaggedTemplateExpression') {
      current = current.tag;
    } else {
      return current.type === 'Identifier' ? current.name : undefined;
    }
  }
}

/** @type {import('eslint').Rule.RuleModule} */
module.exports = {
  meta: {
    type: 'problem',
    docs: {
      description:
        'Test files are named *.spec.ts; those that open the test database or a hub *.db.spec.ts or *.e2e.spec.ts',
    },
    schema: [
      {
        type: 'object',
        properties: {
          modules: { type: 'array', items: { type: 'string' } },
          names: { type: 'array', items: { type: 'string' } },
        },
        additionalProperties: false,
      },
    ],
    messages: {
      notASpec:
        '{{file}} calls {{call}}() but is not named *.spec.ts, so jest never runs it. Rename it to *.spec.ts (*.db.spec.ts or *.e2e.spec.ts if it opens the test database or a hub).',
      opensDatabase:
        '{{file}} opens the test database or a hub ({{what}}) but is named *.spec.ts: rename it to *.db.spec.ts (database) or *.e2e.spec.ts (a running hub). `npm run test:pg` and `npm run test:data-api` select files by those suffixes and skip it otherwise.',
    },
  },
  create(context) {
    const options = { ...DEFAULT_OPENERS, ...context.options[0] };
    const modulePatterns = options.modules.map((source) => new RegExp(source));
    const openerNames = new Set(options.names);
    const file = path.basename(context.filename);
    const isSpec = file.endsWith('.spec.ts');
    const isDatabaseSpec = file.endsWith('.db.spec.ts') || file.endsWith('.e2e.spec.ts');
    let reportedCall = false;

    /** The opener an import declaration brings in, if any: its module or one of its names. */
    function opener(node) {
      const source = node.source.value;
      if (typeof source === 'string' && modulePatterns.some((pattern) => pattern.test(source))) {
        return `'${source}'`;
      }
      const named = node.specifiers?.find(
        (s) => s.type === 'ImportSpecifier' && openerNames.has(s.imported.name ?? s.imported.value),
      );
      return named ? named.imported.name : undefined;
    }

    /** Whether `name` at `node` is a local variable (a parameter named `test`), not jest's global. */
    function isLocal(node, name) {
      for (let scope = context.sourceCode.getScope(node); scope; scope = scope.upper) {
        const variable = scope.set.get(name);
        if (variable && variable.defs.length > 0) {
          return !variable.defs.some(
            (def) => def.type === 'ImportBinding' && def.parent.source.value === '@jest/globals',
          );
        }
      }
      return false;
    }

    return {
      CallExpression(node) {
        if (isSpec || reportedCall) {
          return;
        }
        const call = rootCallee(node);
        if (call && TEST_CALLS.has(call) && !isLocal(node, call)) {
          reportedCall = true;
          context.report({ node, messageId: 'notASpec', data: { file, call } });
        }
      },
      'ImportDeclaration, ExportNamedDeclaration, ExportAllDeclaration'(node) {
        if (!isSpec || isDatabaseSpec || !node.source || node.importKind === 'type' || node.exportKind === 'type') {
          return;
        }
        const what = opener(node);
        if (what) {
          context.report({ node, messageId: 'opensDatabase', data: { file, what } });
        }
      },
    };
  },
};
