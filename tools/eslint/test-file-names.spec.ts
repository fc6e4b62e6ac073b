import { RuleTester } from 'eslint';
import tseslint from 'typescript-eslint';
import rule from './test-file-names';

const ruleTester = new RuleTester({ languageOptions: { parser: tseslint.parser } });

const notASpec = (file: string, call: string) => ({ messageId: 'notASpec', data: { file, call } });
const opensDatabase = (file: string, what: string) => ({ messageId: 'opensDatabase', data: { file, what } });

ruleTester.run('test-file-names', rule, {
  valid: [
    { filename: 'libs/x/src/thing.spec.ts', code: "describe('thing', () => { it('works', () => {}); });" },
    { filename: 'libs/x/src/thing.db.spec.ts', code: "import { createTestDatabase } from '@marvain/db/testing';" },
    { filename: 'apps/hub/src/thing.e2e.spec.ts', code: "import { startHub } from './testing/hub-test-server';" },
    { filename: 'apps/hub/src/local/hub.e2e.spec.ts', code: "import { HubProcess } from './testing/hub-process';" },
    // Types only: nothing is opened.
    { filename: 'libs/x/src/thing.spec.ts', code: "import type { TestDatabase } from '@marvain/db/testing';" },
    { filename: 'libs/x/src/thing.spec.ts', code: "import { type TestDatabase } from './db';" },
    // Test helpers may open databases; they are not specs.
    { filename: 'libs/db/src/testing/test-database.ts', code: "import { openDatabase } from '../database';" },
    { filename: 'libs/x/src/thing.ts', code: 'const test = (n: number) => n; export const it = test;' },
    { filename: 'libs/x/src/thing.ts', code: 'tests.describe(); item.it();' },
    // A local function or parameter that happens to be called `test` or `describe`.
    { filename: 'libs/x/src/thing.ts', code: 'export const find = (test: (n: number) => boolean) => test(1);' },
    { filename: 'libs/x/src/thing.ts', code: 'function describe(n: number) { return n; } describe(1);' },
  ],
  invalid: [
    {
      filename: 'libs/x/src/thing.test.ts',
      code: "describe('thing', () => { it('works', () => {}); });",
      errors: [notASpec('thing.test.ts', 'describe')],
    },
    { filename: 'libs/x/src/thing.ts', code: "it.each([1])('n %i', () => {});", errors: [notASpec('thing.ts', 'it')] },
    { filename: 'libs/x/src/thing-spec.ts', code: "test('t', () => {});", errors: [notASpec('thing-spec.ts', 'test')] },
    {
      filename: 'libs/x/src/thing.ts',
      code: "import { test } from '@jest/globals'; test('t', () => {});",
      errors: [notASpec('thing.ts', 'test')],
    },
    {
      filename: 'libs/x/src/thing.ts',
      code: "describe.each([1])('n %i', () => {});",
      errors: [notASpec('thing.ts', 'describe')],
    },
    {
      filename: 'libs/x/src/things.spec.ts',
      code: "import { createTestDatabase, type TestDatabase } from '@marvain/db/testing';",
      errors: [opensDatabase('things.spec.ts', "'@marvain/db/testing'")],
    },
    {
      filename: 'libs/x/src/things.spec.ts',
      code: "import { createTestDatabase } from '../../db/src/testing/test-database';",
      errors: [opensDatabase('things.spec.ts', 'createTestDatabase')],
    },
    {
      filename: 'apps/hub/src/routes.spec.ts',
      code: "import { startTestHub } from './testing/hub-test-server';",
      errors: [opensDatabase('routes.spec.ts', "'./testing/hub-test-server'")],
    },
    {
      filename: 'apps/hub/src/local/cli.spec.ts',
      code: "import { HubProcess } from './testing/hub-process';",
      errors: [opensDatabase('cli.spec.ts', "'./testing/hub-process'")],
    },
    {
      filename: 'libs/x/src/things.spec.ts',
      code: "import { thing } from './fixtures';",
      options: [{ modules: ['/fixtures$'], names: [] }],
      errors: [opensDatabase('things.spec.ts', "'./fixtures'")],
    },
  ],
});
