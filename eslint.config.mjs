// @ts-check
// ESLint 9 flat config: type-aware typescript-eslint for TypeScript, Nx module boundaries for apps/ and libs/.
import js from '@eslint/js';
import { createProjectGraphAsync } from '@nx/devkit';
import nx from '@nx/eslint-plugin';
import prettier from 'eslint-config-prettier/flat';
import { defineConfig, globalIgnores } from 'eslint/config';
import globals from 'globals';
import tseslint from 'typescript-eslint';

// @nx/enforce-module-boundaries only reads a *cached* project graph and silently skips itself when there is
// none (fresh clone, CI). Build or refresh it up front; Nx caches it under .nx/workspace-data (offline).
await createProjectGraphAsync({ exitOnError: false });

// Only the db library (type:data) may talk to database drivers/dialects directly. Plain `kysely` stays
// allowed everywhere: repositories use its query builder.
const DRIVER_IMPORTS = ['pg', 'pg-*', '@electric-sql/*', 'kysely-data-api', '@aws-sdk/client-rds-data'];
// The AWS SDK (and its test double) only in the AWS adapters library (type:adapter) and, for the Data
// API driver, the db library (type:data): everything else reaches AWS through the ports they implement.
const AWS_SDK_IMPORTS = ['@aws-sdk/*', 'aws-sdk-client-mock'];

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
    rules: {
      '@nx/enforce-module-boundaries': [
        'error',
        {
          enforceBuildableLibDependency: false,
          allow: [],
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
            { sourceTag: 'type:data', onlyDependOnLibsWithTags: ['type:data', 'type:contracts'] },
            {
              sourceTag: 'type:contracts',
              onlyDependOnLibsWithTags: ['type:contracts'],
              bannedExternalImports: [...DRIVER_IMPORTS, ...AWS_SDK_IMPORTS],
            },
            // The CLI reuses hub services.
            { sourceTag: 'scope:cli', onlyDependOnLibsWithTags: ['scope:cli', 'scope:shared', 'scope:hub'] },
            { sourceTag: 'scope:hub', onlyDependOnLibsWithTags: ['scope:hub', 'scope:shared'] },
            { sourceTag: 'scope:shared', onlyDependOnLibsWithTags: ['scope:shared'] },
          ],
        },
      ],
    },
  },

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
