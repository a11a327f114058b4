/**
 * Starts, restarts and stops the infill-ls process behind a vscode-languageclient `LanguageClient`.
 * Start/stop requests are queued so a restart during a slow start never leaves two servers running.
 */
import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as vscode from 'vscode';
import {
    DidChangeConfigurationNotification,
    LanguageClient,
    LanguageClientOptions,
    ResponseError,
    RevealOutputChannelOn,
    ServerOptions,
    State,
} from 'vscode-languageclient/node';
import { documentSelector } from './common/languages';
import {
    commandCandidates,
    describeCommand,
    findExecutable,
    moduleCheckArgs,
    noServerMessage,
    SERVER_EXECUTABLE,
    ServerCommand,
    serverExecutable,
} from './common/serverCommand';
import { completionEnabled, configurationAnswers, SECTION } from './common/settings';
import { parseStatus, STATUS_NOTIFICATION } from './common/status';
import { runDoctor } from './doctor';
import { pythonExtensionInterpreter } from './python';
import { clientSettings, serverSettings } from './settings';
import { StatusBar } from './statusBar';

/** How long shutdown/exit may take before the process is killed. */
const STOP_TIMEOUT_MS = 3000;
/** How long `python -c "find_spec('lsp_server')"` may take (a cold interpreter on a slow disk). */
const MODULE_CHECK_TIMEOUT_MS = 20000;

function isExecutableFile(file: string): boolean {
    try {
        fs.accessSync(file, fs.constants.X_OK);
        return fs.statSync(file).isFile();
    } catch {
        return false;
    }
}

/** Whether the interpreter imports lsp_server where and how the server would run (cwd, environment). */
function canImportServer(candidate: ServerCommand, cwd: string): Promise<boolean> {
    const { options } = serverExecutable(candidate, cwd, process.env);
    return new Promise((resolve) => {
        execFile(candidate.command, moduleCheckArgs(candidate), { ...options, timeout: MODULE_CHECK_TIMEOUT_MS }, (error) => {
            resolve(error === null);
        });
    });
}

function workspaceRoot(): vscode.Uri | undefined {
    return vscode.workspace.workspaceFolders?.[0]?.uri;
}

/** The server's working directory: the first workspace folder, else the home directory. */
function serverCwd(): string {
    return workspaceRoot()?.fsPath ?? os.homedir();
}

/** The custom notification the Copilot language server takes too: the document the user is in now. */
export const DID_FOCUS_NOTIFICATION = 'textDocument/didFocus';

export class ServerManager implements vscode.Disposable {
    private client: LanguageClient | undefined;
    private queue: Promise<void> = Promise.resolve();
    private completionsOn: boolean;
    private shuttingDown = false;

    constructor(
        private readonly log: vscode.LogOutputChannel,
        private readonly statusBar: StatusBar,
    ) {
        this.completionsOn = completionEnabled(serverSettings());
        this.statusBar.setCompletionEnabled(this.completionsOn);
    }

    start(): Promise<void> {
        return this.enqueue(() => this.startNow());
    }

    restart(): Promise<void> {
        return this.enqueue(async () => {
            await this.stopNow();
            await this.startNow();
        });
    }

    stop(): Promise<void> {
        return this.enqueue(() => this.stopNow());
    }

    /**
     * For deactivate(): stops the server now without waiting behind a queued start (VS Code gives
     * deactivate only a few seconds), and makes any start still in flight give up.
     */
    async shutdown(): Promise<void> {
        this.shuttingDown = true;
        await this.stopNow();
    }

    /** Sends the current settings to a running server (and applies the enabled flag client-side at once). */
    pushSettings(): void {
        const settings = serverSettings(workspaceRoot());
        this.completionsOn = completionEnabled(settings);
        this.statusBar.setCompletionEnabled(this.completionsOn);
        const client = this.client;
        if (client?.isRunning() === true) {
            client
                .sendNotification(DidChangeConfigurationNotification.type, { settings: { [SECTION]: settings } })
                .catch((error: unknown) => {
                    this.log.error(`Could not send settings: ${String(error)}`);
                });
        }
    }

    dispose(): void {
        void this.shutdown();
    }

    private enqueue(task: () => Promise<void>): Promise<void> {
        const next = this.queue.then(task, task);
        this.queue = next.catch(() => undefined);
        return next;
    }

    /**
     * Tells the server which document the user is in (`textDocument/didFocus`), so its `infill/status`
     * route is about that one, and where the cursor is (`position`, infill-ls's addition to Copilot's
     * notification), where the server warms up the suggestion; editors the server does not serve are not
     * announced.
     */
    focus(editor: vscode.TextEditor | undefined): void {
        const client = this.client;
        if (editor === undefined || client?.isRunning() !== true) {
            return;
        }
        const document = editor.document;
        if (vscode.languages.match(documentSelector(), document) === 0) {
            return;
        }
        const uri = client.code2ProtocolConverter.asUri(document.uri);
        const position = client.code2ProtocolConverter.asPosition(editor.selection.active);
        client.sendNotification(DID_FOCUS_NOTIFICATION, { textDocument: { uri }, position }).catch((error: unknown) => {
            this.log.warn(`Could not send ${DID_FOCUS_NOTIFICATION}: ${String(error)}`);
        });
    }

    /** **infill: Run Doctor**: doctor with the command the server is started with, and the same settings. */
    async doctor(output: vscode.OutputChannel): Promise<void> {
        const command = await this.resolveCommand();
        if (command === undefined) {
            const message = noServerMessage(vscode.workspace.isTrusted);
            this.log.error(message);
            void vscode.window.showErrorMessage(message);
            return;
        }
        const active = vscode.window.activeTextEditor?.document.uri;
        const files = active?.scheme === 'file' ? [active.fsPath] : [];
        await runDoctor(command, serverSettings(workspaceRoot()), serverCwd(), output, this.log, files);
    }

    private async resolveCommand(): Promise<ServerCommand | undefined> {
        const root = workspaceRoot();
        const settings = clientSettings(root);
        const explicit = settings.command !== undefined;
        const trusted = vscode.workspace.isTrusted;
        // Untrusted: the Python extension is not even asked (its choice may be the workspace's own .venv).
        const askPython = !explicit && trusted;
        const candidates = commandCandidates(
            {
                configuredCommand: settings.command,
                pythonSetting: settings.python,
                pythonExtensionInterpreter: askPython ? await pythonExtensionInterpreter(root, this.log) : undefined,
                workspaceTrusted: trusted,
                executableOnPath: findExecutable(SERVER_EXECUTABLE, {
                    pathVariable: process.env.PATH,
                    platform: process.platform,
                    pathExt: process.env.PATHEXT,
                    isExecutable: isExecutableFile,
                }),
            },
            { workspaceFolder: root?.fsPath, home: os.homedir() },
        );
        for (const candidate of candidates) {
            if (!candidate.needsModuleCheck || (await canImportServer(candidate, serverCwd()))) {
                return candidate;
            }
            this.log.warn(
                `${describeCommand(candidate)} (from ${candidate.source}) cannot import lsp_server; trying the next option.`,
            );
        }
        return undefined;
    }

    private async startNow(): Promise<void> {
        this.statusBar.setStatus({ state: 'starting', message: '', model: null, warnings: [] });
        const command = await this.resolveCommand();
        if (this.shuttingDown) {
            return;
        }
        if (command === undefined) {
            this.log.info(`Client settings in effect: ${JSON.stringify(clientSettings(workspaceRoot()))}`);
            this.fail(noServerMessage(vscode.workspace.isTrusted));
            return;
        }
        this.log.info(`Starting ${describeCommand(command)} (from ${command.source})`);
        const root = workspaceRoot();
        const serverOptions: ServerOptions = serverExecutable(command, serverCwd(), process.env);
        const client = new LanguageClient('infill', 'infill-ls', serverOptions, this.clientOptions(root));
        client.onNotification(STATUS_NOTIFICATION, (params: unknown) => {
            const status = parseStatus(params);
            if (status === undefined) {
                this.log.warn(`Ignoring malformed ${STATUS_NOTIFICATION}: ${JSON.stringify(params)}`);
                return;
            }
            if (status.state === 'error') {
                this.log.error(`Server error: ${status.message}`);
            }
            const known = this.statusBar.current.warnings;
            for (const warning of status.warnings.filter((w) => !known.includes(w))) {
                this.log.warn(`Server warning: ${warning}`);
            }
            const route = status.route ?? null;
            const before = this.statusBar.current.route ?? null;
            if (route !== null && (route.uri !== before?.uri || route.text !== before.text || route.target !== before.target)) {
                this.log.info(`Route of ${route.uri}: ${route.target}${route.text.length > 0 ? ` (${route.text})` : ''}`);
            }
            this.statusBar.setStatus(status);
        });
        client.onDidChangeState((event) => {
            if (event.newState === State.Stopped && this.client === client) {
                this.statusBar.setStatus({
                    state: 'stopped',
                    message: 'the server process stopped; its log has the reason',
                    model: null,
                    warnings: [],
                });
            }
        });
        this.client = client;
        try {
            await client.start();
            if (this.client === client) {
                // The documents open at start were announced during start(): now say which one is active.
                this.focus(vscode.window.activeTextEditor);
            }
        } catch (error) {
            if (this.client === client) {
                this.fail(`Could not start ${describeCommand(command)}: ${String(error)}`);
            }
        }
    }

    private clientOptions(root: vscode.Uri | undefined): LanguageClientOptions {
        return {
            documentSelector: documentSelector(),
            outputChannel: this.log,
            traceOutputChannel: this.log,
            revealOutputChannelOn: RevealOutputChannelOn.Never,
            initializationOptions: serverSettings(root),
            middleware: {
                // Disabled completions never reach the server; VS Code cancels stale requests itself.
                provideInlineCompletionItems: (document, position, context, token, next) =>
                    this.completionsOn ? next(document, position, context, token) : null,
                workspace: {
                    configuration: async (params, token, next) => {
                        const fallback = await next(params, token);
                        if (fallback instanceof ResponseError) {
                            return fallback;
                        }
                        return configurationAnswers(
                            params.items,
                            (scopeUri) => serverSettings(scopeUri !== undefined ? vscode.Uri.parse(scopeUri) : root),
                            fallback,
                        );
                    },
                },
                handleWorkDoneProgress: (token, params, next) => {
                    if (this.statusBar.progress.update(token, params)) {
                        this.statusBar.render();
                    }
                    next(token, params);
                },
            },
        };
    }

    private async stopNow(): Promise<void> {
        const client = this.client;
        this.client = undefined;
        this.statusBar.progress.clear();
        if (client === undefined) {
            return;
        }
        try {
            // dispose() runs shutdown + exit and kills the process if it has not exited in time.
            await client.dispose(STOP_TIMEOUT_MS);
        } catch (error) {
            this.log.warn(`Stopping the server: ${String(error)}`);
        }
    }

    private fail(message: string): void {
        this.log.error(message);
        this.statusBar.setStatus({ state: 'error', message, model: null, warnings: [] });
    }
}
