/** Command ids the extension registers; package.json `contributes.commands` must list exactly these. */
export const Commands = {
    enable: 'infill.enable',
    disable: 'infill.disable',
    restart: 'infill.restart',
    showLog: 'infill.showLog',
    showStatus: 'infill.showStatus',
    doctor: 'infill.doctor',
} as const;

export type CommandId = (typeof Commands)[keyof typeof Commands];

/** VS Code's built-in partial-accept commands, bound to keys in package.json for infill ghost text. */
export const BuiltinInlineCommands = {
    acceptNextWord: 'editor.action.inlineSuggest.acceptNextWord',
    acceptNextLine: 'editor.action.inlineSuggest.acceptNextLine',
} as const;
