/**
 * VS Code language ids the server completes. They mirror `language_ids` in syntax/languages.py (a pytest test
 * checks they agree) and the `onLanguage:` activation events in package.json (a node test checks those).
 */
export const LANGUAGE_IDS: readonly string[] = [
    'python',
    'javascript',
    'javascriptreact',
    'typescript',
    'typescriptreact',
    'go',
    'rust',
    'java',
    'c',
    'cpp',
    'cuda-cpp',
    'lua',
];

/** Document selector entries (plain data, so this module needs no vscode import). */
export interface DocumentFilterData {
    readonly scheme: string;
    readonly language: string;
}

/** Saved files and unsaved (untitled) buffers alike get completions. */
export function documentSelector(): DocumentFilterData[] {
    return LANGUAGE_IDS.flatMap((language) => [
        { scheme: 'file', language },
        { scheme: 'untitled', language },
    ]);
}
