/**
 * Which process to start as the server, in order of preference:
 * 1. `infill.server.command` (a full argv, used as given);
 * 2. `infill.server.python`, then the Python extension's interpreter, each running `-m lsp_server`
 *    (the glue checks the module is importable before using one);
 * 3. `infill-ls` found on PATH.
 * In an untrusted workspace (Restricted Mode) the Python extension's interpreter is skipped: it may be the
 * workspace's own `.venv`, that is, code the workspace brings. (`infill.server.*` are restricted settings:
 * VS Code then reads them from the user's settings only.)
 * Pure logic: filesystem checks are passed in, so the order is testable without VS Code.
 */
import * as path from 'node:path';

export const SERVER_MODULE = 'lsp_server';
export const SERVER_EXECUTABLE = 'infill-ls';

export type CommandSource = 'infill.server.command' | 'infill.server.python' | 'python-extension' | 'PATH';

export interface ServerCommand {
    readonly command: string;
    readonly args: readonly string[];
    readonly source: CommandSource;
    /** True when the command's python must first be checked to import lsp_server. */
    readonly needsModuleCheck: boolean;
}

export interface CommandInputs {
    /** `infill.server.command` after reading settings. */
    readonly configuredCommand?: readonly string[] | undefined;
    /** `infill.server.python`. */
    readonly pythonSetting?: string | undefined;
    /** The interpreter the Python extension selected for the workspace (argv, usually one element). */
    readonly pythonExtensionInterpreter?: readonly string[] | undefined;
    /** Absolute path of `infill-ls` on PATH, if any. */
    readonly executableOnPath?: string | undefined;
    /** False in Restricted Mode: no interpreter chosen by (or inside) the workspace. Default true. */
    readonly workspaceTrusted?: boolean | undefined;
}

export interface ExpansionContext {
    readonly workspaceFolder?: string | undefined;
    readonly home?: string | undefined;
}

/** Expands `${workspaceFolder}`, `${userHome}` and a leading `~` in a setting value. */
export function expandVariables(value: string, context: ExpansionContext): string {
    let result = value;
    if (context.home !== undefined) {
        result = result.replace(/\$\{userHome\}/g, context.home);
        if (result === '~' || result.startsWith('~/') || result.startsWith('~\\')) {
            result = context.home + result.slice(1);
        }
    }
    if (context.workspaceFolder !== undefined) {
        result = result.replace(/\$\{workspaceFolder\}/g, context.workspaceFolder);
    }
    return result;
}

function moduleCommand(argv: readonly string[], source: CommandSource): ServerCommand | undefined {
    const [command, ...prefixArgs] = argv;
    if (command === undefined || command.trim().length === 0) {
        return undefined;
    }
    return { command, args: [...prefixArgs, '-m', SERVER_MODULE], source, needsModuleCheck: true };
}

/** Every candidate, best first; the glue starts the first one that passes its check. */
export function commandCandidates(inputs: CommandInputs, context: ExpansionContext = {}): ServerCommand[] {
    const candidates: ServerCommand[] = [];
    const configured = inputs.configuredCommand?.map((part) => expandVariables(part, context));
    const [configuredCommand, ...configuredArgs] = configured ?? [];
    if (configuredCommand !== undefined && configuredCommand.trim().length > 0) {
        // An explicit command is the user's decision: no fallback hides a typo in it.
        return [
            {
                command: configuredCommand,
                args: configuredArgs,
                source: 'infill.server.command',
                needsModuleCheck: false,
            },
        ];
    }
    if (inputs.pythonSetting !== undefined) {
        const fromSetting = moduleCommand([expandVariables(inputs.pythonSetting, context)], 'infill.server.python');
        if (fromSetting !== undefined) {
            candidates.push(fromSetting);
        }
    }
    if (inputs.pythonExtensionInterpreter !== undefined && inputs.workspaceTrusted !== false) {
        const fromExtension = moduleCommand(inputs.pythonExtensionInterpreter, 'python-extension');
        if (fromExtension !== undefined && !candidates.some((c) => c.command === fromExtension.command)) {
            candidates.push(fromExtension);
        }
    }
    if (inputs.executableOnPath !== undefined) {
        candidates.push({
            command: inputs.executableOnPath,
            args: [],
            source: 'PATH',
            needsModuleCheck: false,
        });
    }
    return candidates;
}

export interface PathLookup {
    /** The PATH variable's value. */
    readonly pathVariable: string | undefined;
    /** `process.platform`. */
    readonly platform: string;
    /** Windows PATHEXT (ignored elsewhere). */
    readonly pathExt?: string | undefined;
    /** Whether a file exists and may be executed. */
    readonly isExecutable: (file: string) => boolean;
}

/** Finds `name` on PATH like a shell would; undefined when it is not there. */
export function findExecutable(name: string, lookup: PathLookup): string | undefined {
    const windows = lookup.platform === 'win32';
    const pathApi = windows ? path.win32 : path.posix;
    const directories = (lookup.pathVariable ?? '').split(windows ? ';' : ':').filter((dir) => dir.length > 0);
    const extensions = windows
        ? ['', ...(lookup.pathExt ?? '.COM;.EXE;.BAT;.CMD').split(';').filter((ext) => ext.length > 0)]
        : [''];
    for (const directory of directories) {
        for (const extension of extensions) {
            const candidate = pathApi.join(directory, name + extension);
            if (lookup.isExecutable(candidate)) {
                return candidate;
            }
        }
    }
    return undefined;
}

/** Plain data for vscode-languageclient's `Executable` server options. */
export interface ExecutableData {
    readonly command: string;
    readonly args: string[];
    readonly options: { readonly cwd: string; readonly env: Record<string, string | undefined> };
}

/**
 * How the extension launches the server. Deliberately no `transport`: with `TransportKind.stdio`
 * vscode-languageclient appends `--stdio` to the arguments, which infill-ls does not take; without one it
 * speaks LSP over plain stdin/stdout all the same.
 *
 * The working directory is the workspace folder, and `python -m` would put it first on `sys.path`: a
 * workspace with a `syntax/`, `completion/` or `lsp_server/` of its own would have its code run in place of
 * the server's (and a malicious one, in any workspace). `PYTHONSAFEPATH=1` (Python 3.11+, which the server
 * needs) keeps it off.
 */
export function serverExecutable(
    candidate: { command: string; args: readonly string[] },
    cwd: string,
    env: Record<string, string | undefined>,
): ExecutableData {
    return {
        command: candidate.command,
        args: [...candidate.args],
        options: { cwd, env: { ...env, PYTHONUNBUFFERED: '1', PYTHONSAFEPATH: '1' } },
    };
}

/**
 * `infill-ls doctor` with the editor's settings (written to `settingsFile`), started the way the server
 * is: the server's argv, then `--settings FILE doctor` (global options come before the subcommand, so
 * this holds for `infill-ls`, `python -m lsp_server` and a custom `infill.server.command` alike), then
 * the files whose route doctor should explain (after `--`: a name may start with a dash).
 */
export function doctorCommand(
    candidate: { command: string; args: readonly string[] },
    settingsFile: string,
    files: readonly string[] = [],
): { command: string; args: string[] } {
    const routes = files.length > 0 ? ['--', ...files] : [];
    return { command: candidate.command, args: [...candidate.args, '--settings', settingsFile, 'doctor', ...routes] };
}

/** The argv of a Python check that exits 0 only if `lsp_server` is importable by that interpreter. */
export function moduleCheckArgs(candidate: ServerCommand): string[] {
    const prefix = candidate.args.slice(0, Math.max(0, candidate.args.length - 2));
    return [
        ...prefix,
        '-c',
        `import importlib.util, sys; sys.exit(0 if importlib.util.find_spec(${JSON.stringify(SERVER_MODULE)}) else 1)`,
    ];
}

/** A one-line shell-like rendering for the log. */
export function describeCommand(candidate: { command: string; args: readonly string[] }): string {
    return [candidate.command, ...candidate.args]
        .map((part) => (/^[\w@%+=:,./-]+$/.test(part) ? part : `'${part.replace(/'/g, `'\\''`)}'`))
        .join(' ');
}

/** What to tell the user when no candidate can start. */
export function noServerMessage(workspaceTrusted = true): string {
    const base =
        'infill-ls: no server found. Install infill-ls into a Python environment (`pip install <infill-ls checkout>`) ' +
        'and select that interpreter, or set `infill.server.python` or `infill.server.command`.';
    if (workspaceTrusted) {
        return base;
    }
    return (
        `${base} This workspace is not trusted (Restricted Mode): the Python extension's interpreter is not used ` +
        'and `infill.server.*` are read from your user settings only; set them there, or trust the workspace.'
    );
}
