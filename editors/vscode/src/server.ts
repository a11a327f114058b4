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

function canImportServer(candidate: ServerCommand): Promise<boolean> {
    return new Promise((resolve) => {
        execFile(candidate.command, moduleCheckArgs(candidate), { timeout: MODULE_CHECK_TIMEOUT_MS }, (error) => {
            resolve(error === null);
        });
    });
}

function workspaceRoot(): vscode.Uri | undefined {
    return vscode.workspace.workspaceFolders?.[0]?.uri;
}

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

    private async resolveCommand(): Promise<ServerCommand | undefined> {
        const root = workspaceRoot();
        const settings = clientSettings(root);
        const explicit = settings.command !== undefined;
        const candidates = commandCandidates(
            {
                configuredCommand: settings.command,
                pythonSetting: settings.python,
                pythonExtensionInterpreter: explicit ? undefined : await pythonExtensionInterpreter(root, this.log),
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
            if (!candidate.needsModuleCheck || (await canImportServer(candidate))) {
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
            this.fail(noServerMessage());
            return;
        }
        this.log.info(`Starting ${describeCommand(command)} (from ${command.source})`);
        const root = workspaceRoot();
        const serverOptions: ServerOptions = serverExecutable(command, root?.fsPath ?? os.homedir(), process.env);
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
