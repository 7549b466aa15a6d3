// Type-aware lint: the rules that catch stream bugs (an un-awaited send loses data) are errors.
import js from '@eslint/js';
import { createNodeResolver, importX } from 'eslint-plugin-import-x';
import tseslint from 'typescript-eslint';

const packagePatterns = [
  { group: ['@burnrate/*/src/*', '@burnrate/*/src'], message: 'Import a package by its name; its src/ is private.' },
  {
    group: ['../../libs/*', '../../services/*', '../../../libs/*', '../../../services/*', '../../schemas/*', '../../../schemas/*'],
    message: 'Import another package by its name, not by a relative path.',
  },
];
const noInfraPattern = {
  group: ['**/infra/**', '**/scripts/**'],
  message: 'Production code does not import from infra/ or scripts/: move what it needs into a package.',
};

export default tseslint.config(
  {
    ignores: [
      '**/node_modules/**',
      '**/dist/**',
      '.burnrate/**',
      'infra/kafka/.cache/**',
      'infra/kafka/.run/**',
      '**/*.js',
      '!eslint.config.js',
    ],
  },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    plugins: { 'import-x': importX },
    settings: {
      'import-x/resolver-next': [createNodeResolver({ extensions: ['.ts', '.js'] })],
      // no-cycle follows imports into other files and must parse them as TypeScript.
      'import-x/parsers': { '@typescript-eslint/parser': ['.ts'] },
      'import-x/extensions': ['.ts', '.js'],
    },
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      // A cycle between modules makes start-up order matter and usually means a port is missing.
      'import-x/no-cycle': 'error',
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': 'error',
      '@typescript-eslint/consistent-type-imports': ['error', { fixStyle: 'inline-type-imports' }],
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/require-await': 'off',
      'no-restricted-imports': ['error', { patterns: packagePatterns }],
    },
  },
  {
    // Production code owns what it uses: infra/ holds deployment and test infrastructure, scripts/
    // holds command-line tools, and neither is a dependency a package may reach into.
    files: ['schemas/**/*.ts', 'libs/**/*.ts', 'services/**/*.ts'],
    ignores: ['**/*.test.ts', '**/*.int.test.ts', '**/test-support/**', '**/bench/**'],
    rules: {
      'no-restricted-imports': ['error', { patterns: [...packagePatterns, noInfraPattern] }],
    },
  },
  {
    // The pure packages stay pure in their tests too: the builders without the servers beside them.
    files: ['libs/detection/**/*.ts', 'schemas/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [...packagePatterns, noInfraPattern],
          paths: [
            {
              name: '@burnrate/testing',
              message: 'Import the builders from @burnrate/testing/builders: the package root brings SMTP and HTTP servers.',
            },
          ],
        },
      ],
    },
  },
  {
    files: ['**/*.test.ts', '**/*.int.test.ts'],
    rules: {
      '@typescript-eslint/no-non-null-assertion': 'off',
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-unsafe-assignment': 'off',
    },
  },
  { files: ['eslint.config.js'], ...tseslint.configs.disableTypeChecked },
);
