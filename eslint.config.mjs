// @ts-check
// ESLint 9 flat config: type-aware typescript-eslint for TypeScript, Nx module boundaries for apps/ and libs/.
import js from '@eslint/js';
import { createProjectGraphAsync } from '@nx/devkit';
import nx from '@nx/eslint-plugin';
import prettier from 'eslint-config-prettier/flat';
import { defineConfig, globalIgnores } from 'eslint/config';
import globals from 'globals';
import tseslint from 'typescript-eslint';
import marvain from './tools/eslint/index.js';

// @nx/enforce-module-boundaries only reads a *cached* project graph and silently skips itself when there is
// none (fresh clone, CI). Build or refresh it up front; Nx caches it under .nx/workspace-data (offline).
await createProjectGraphAsync({ exitOnError: false });

// Only the db library (type:data) may talk to database drivers/dialects directly. `kysely` itself is the
// repositories' query builder: where it may be imported is the rule further down.
const DRIVER_IMPORTS = ['pg', 'pg-*', '@electric-sql/*', 'kysely-data-api', '@aws-sdk/client-rds-data'];
// The AWS SDK (and its test double) only in the AWS adapters library (type:adapter) and, for the Data
// API driver, the db library (type:data): everything else reaches AWS through the ports they implement.
const AWS_SDK_IMPORTS = ['@aws-sdk/*', 'aws-sdk-client-mock'];

// Module boundaries between Nx projects (tags in each project.json).
const MODULE_BOUNDARIES = {
  enforceBuildableLibDependency: false,
  allow: [],
  // Test-only, both ways: the db's test helper starts the local Data API endpoint in data-api
  // mode, and the endpoint's spec checks the db's Data API dialect against it.
  ignoredCircularDependencies: [['db', 'data-api']],
  depConstraints: [
    // Only an app chooses adapters (type:adapter); nothing else depends on them.
    {
      sourceTag: 'type:app',
      onlyDependOnLibsWithTags: [
        'type:adapter',
        'type:feature',
        'type:platform',
        'type:data',
        'type:contracts',
        'type:testing',
      ],
      bannedExternalImports: [...DRIVER_IMPORTS, ...AWS_SDK_IMPORTS],
    },
    {
      sourceTag: 'type:feature',
      onlyDependOnLibsWithTags: ['type:feature', 'type:platform', 'type:data', 'type:contracts'],
      bannedExternalImports: [...DRIVER_IMPORTS, ...AWS_SDK_IMPORTS],
    },
    // Adapters implement ports: the platform's, and a feature's only for the port interfaces it
    // defines (realtime's connection store and push).
    {
      sourceTag: 'type:adapter',
      onlyDependOnLibsWithTags: ['type:platform', 'type:data', 'type:contracts', 'type:feature'],
      bannedExternalImports: DRIVER_IMPORTS,
    },
    {
      sourceTag: 'type:platform',
      onlyDependOnLibsWithTags: ['type:platform', 'type:data', 'type:contracts'],
      bannedExternalImports: [...DRIVER_IMPORTS, ...AWS_SDK_IMPORTS],
    },
    // type:tool: the db's test helper starts the local Data API endpoint (tools/data-api).
    {
      sourceTag: 'type:data',
      onlyDependOnLibsWithTags: ['type:data', 'type:contracts', 'type:tool', 'type:testing'],
    },
    // Tools (tools/*: benches, the local Data API endpoint) may use anything; nothing but tools and
    // test helpers use them.
    {
      sourceTag: 'type:tool',
      onlyDependOnLibsWithTags: [
        'type:tool',
        'type:testing',
        'type:app',
        'type:adapter',
        'type:feature',
        'type:platform',
        'type:data',
        'type:contracts',
      ],
    },
    // Stand-ins for tests and benches (tools/testing): a leaf.
    { sourceTag: 'type:testing', onlyDependOnLibsWithTags: [] },
    {
      sourceTag: 'type:contracts',
      onlyDependOnLibsWithTags: ['type:contracts'],
      bannedExternalImports: [...DRIVER_IMPORTS, ...AWS_SDK_IMPORTS],
    },
    // The satellite daemon runs on other machines from one bundled file: the contracts and two
    // small packages, nothing of the hub (no Nest, no database, no feature library).
    {
      sourceTag: 'scope:satellite',
      onlyDependOnLibsWithTags: ['type:contracts'],
      allowedExternalImports: ['ws', 'commander'],
    },
    // The CLI reuses hub services.
    { sourceTag: 'scope:cli', onlyDependOnLibsWithTags: ['scope:cli', 'scope:shared', 'scope:hub'] },
    { sourceTag: 'scope:hub', onlyDependOnLibsWithTags: ['scope:hub', 'scope:shared'] },
    { sourceTag: 'scope:shared', onlyDependOnLibsWithTags: ['scope:shared'] },
  ],
};

export default defineConfig(
  globalIgnores([
    '**/node_modules/',
    '**/dist/',
    '**/coverage/',
    '**/tmp/',
    '**/.nx/',
    '**/.aws-sam/',
    '**/.marvain-data/',
  ]),
  { linterOptions: { reportUnusedDisableDirectives: 'error' } },

  // Plain JavaScript (jest configs, tools/*.mjs): recommended rules, no type information.
  {
    files: ['**/*.{js,cjs,mjs}'],
    extends: [js.configs.recommended],
    languageOptions: { ecmaVersion: 2023, sourceType: 'module', globals: { ...globals.node } },
  },
  // package.json has no "type": .js files are CommonJS.
  { files: ['**/*.{js,cjs}'], languageOptions: { sourceType: 'commonjs' } },

  // TypeScript: strict + type-checked rules, via the TypeScript project service (root tsconfig.json).
  {
    files: ['**/*.ts'],
    extends: [js.configs.recommended, tseslint.configs.strictTypeChecked],
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
      globals: { ...globals.node },
    },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': 'error',
      '@typescript-eslint/await-thenable': 'error',
      '@typescript-eslint/no-explicit-any': 'error',
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrorsIgnorePattern: '^_' },
      ],
      // Nest modules are decorated empty classes.
      '@typescript-eslint/no-extraneous-class': ['error', { allowWithDecorator: true }],
      // Stylistic noise otherwise: numbers in template strings, and `(e) => logger.error(e)` callbacks.
      '@typescript-eslint/restrict-template-expressions': [
        'error',
        {
          allowNumber: true,
          allowAny: false,
          allowBoolean: false,
          allowNullish: false,
          allowRegExp: false,
          allowNever: false,
        },
      ],
      '@typescript-eslint/no-confusing-void-expression': ['error', { ignoreArrowShorthand: true }],
      '@typescript-eslint/switch-exhaustiveness-check': [
        'error',
        { considerDefaultExhaustiveForUnions: true, requireDefaultForNonUnion: true },
      ],
      // Controllers return plain objects typed by their Swagger DTO classes; that is the Nest pattern.
      '@typescript-eslint/no-unsafe-class-instance-assignment': 'off',
    },
  },

  // Module boundaries between Nx projects (tags in each project.json).
  {
    files: ['**/*.ts'],
    plugins: { '@nx': nx },
    rules: { '@nx/enforce-module-boundaries': ['error', MODULE_BOUNDARIES] },
  },
  // Tools (benches) build and start the real hub through its declared entry, `@marvain/hub`
  // (apps/hub/src/index.ts); the Nx rule refuses every import of an app, so tools alone are let through.
  {
    files: ['tools/**/*.ts'],
    rules: { '@nx/enforce-module-boundaries': ['error', { ...MODULE_BOUNDARIES, allow: ['@marvain/hub'] }] },
  },

  // Kysely's query builder belongs to repositories (controller -> service -> repository): value imports of
  // `kysely` only in `*.repository.ts`, the db library, tests and test helpers. Types (Kysely, Selectable…)
  // may travel further.
  {
    files: ['**/*.ts'],
    ignores: [
      '**/*.repository.ts',
      'libs/db/**',
      '**/*.spec.ts',
      '**/testing/**',
      // The local queue adapter is the repository of the queue table (its SQL is the queue).
      'libs/platform/src/queue/table-queue.ts',
    ],
    rules: {
      '@typescript-eslint/no-restricted-imports': [
        'error',
        {
          paths: [
            {
              name: 'kysely',
              allowTypeImports: true,
              message:
                'Queries live in repositories: import kysely values only in *.repository.ts, the db library, tests and testing/ helpers (types are fine: `import type`).',
            },
          ],
        },
      ],
    },
  },
  // A test file's name decides which runs pick it up (tools/eslint/test-file-names.js).
  { files: ['**/*.ts'], plugins: { marvain }, rules: { 'marvain/test-file-names': 'error' } },

  // Tests: non-null assertions and loosely typed mocks/fixtures are fine.
  {
    files: ['**/*.spec.ts'],
    rules: {
      '@typescript-eslint/no-non-null-assertion': 'off',
      // Response bodies in HTTP-level tests are untyped JSON.
      '@typescript-eslint/no-explicit-any': 'off',
      '@typescript-eslint/restrict-template-expressions': 'off',
      '@typescript-eslint/no-unsafe-argument': 'off',
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-call': 'off',
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-unsafe-return': 'off',
      // expect(mock.method).toHaveBeenCalled() passes methods unbound by design.
      '@typescript-eslint/unbound-method': 'off',
      // In-memory fakes implement async interfaces without awaiting anything.
      '@typescript-eslint/require-await': 'off',
    },
  },

  // Turn off rules that only fight the formatter (Prettier owns layout; `npm run format:check` in CI).
  prettier,
  // After the Prettier preset, which turns `curly` off: braces on every block, so an added line never
  // silently falls outside its `if`.
  { files: ['**/*.{ts,js,cjs,mjs}'], rules: { curly: ['error', 'all'], eqeqeq: ['error', 'always'] } },
);
