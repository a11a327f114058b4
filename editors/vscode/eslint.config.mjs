// ESLint flat config: typed rules for the extension, and a guard that keeps src/common free of `vscode`
// so its logic stays unit-testable in plain node.
import eslint from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
    { ignores: ['out/**', 'node_modules/**', '*.mjs'] },
    eslint.configs.recommended,
    ...tseslint.configs.strictTypeChecked,
    {
        languageOptions: {
            parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
        },
        rules: {
            '@typescript-eslint/restrict-template-expressions': ['error', { allowNumber: true }],
            eqeqeq: 'error',
            curly: 'error',
        },
    },
    {
        files: ['test/**/*.ts'],
        rules: {
            // node:test's describe/it return promises the runner itself awaits.
            '@typescript-eslint/no-floating-promises': [
                'error',
                { allowForKnownSafeCalls: [{ from: 'package', name: ['describe', 'it'], package: 'node:test' }] },
            ],
        },
    },
    {
        files: ['src/common/**/*.ts', 'test/**/*.ts'],
        rules: {
            'no-restricted-imports': [
                'error',
                {
                    paths: [
                        { name: 'vscode', message: 'src/common and tests run in plain node: no vscode import.' },
                        { name: 'vscode-languageclient', message: 'Needs vscode at runtime.' },
                        { name: 'vscode-languageclient/node', message: 'Needs vscode at runtime.' },
                    ],
                },
            ],
        },
    },
);
