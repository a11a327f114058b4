/**
 * Entry point: wires the output channels, status bar, commands, settings watcher, active-editor tracking
 * (textDocument/didFocus) and workspace trust to the server manager.
 * Activation returns at once; the server (and its model) start in the background.
 */
import * as vscode from 'vscode';
import { Commands } from './common/commands';
import { routeLabel, routeLine, RESTRICTED_LINE, statusMessage } from './common/status';
import { ServerManager } from './server';
import { classifyChange, setCompletionEnabled } from './settings';
import { StatusBar } from './statusBar';

let manager: ServerManager | undefined;

interface StatusAction extends vscode.QuickPickItem {
    readonly command: string;
}

/** Clicking the status bar: the error with its remedies, or the usual actions. */
async function showStatus(statusBar: StatusBar, log: vscode.LogOutputChannel): Promise<void> {
    const status = statusBar.current;
    if (status.state === 'error' || status.state === 'stopped') {
        const detail = statusMessage(status);
        const message = detail.length > 0 ? `${detail}.` : 'the server is not running.';
        const choice = await vscode.window.showErrorMessage(
            `infill-ls: ${message}`,
            'Show Log',
            'Run Doctor',
            'Restart',
        );
        if (choice === 'Show Log') {
            log.show();
        } else if (choice === 'Run Doctor') {
            await vscode.commands.executeCommand(Commands.doctor);
        } else if (choice === 'Restart') {
            await vscode.commands.executeCommand(Commands.restart);
        }
        return;
    }
    const enabled = vscode.workspace.getConfiguration('infill').get<boolean>('completion.enabled', true);
    // Self-check warnings first: the quick pick is where a click on the warning marker leads.
    const warnings: StatusAction[] = status.warnings.map((warning) => ({
        label: '$(warning) Model warning',
        detail: warning,
        command: Commands.showLog,
    }));
    // What the status bar's icon says about the active file, and Restricted Mode, in words.
    const route = statusBar.route;
    const about: StatusAction[] = [];
    if (route !== null) {
        const icon = route.target === 'remote' ? '$(cloud)' : route.target === 'none' ? '$(circle-slash)' : '$(lock)';
        about.push({ label: `${icon} This file: ${routeLabel(route)}`, detail: routeLine(route), command: Commands.showLog });
    }
    if (statusBar.isRestricted) {
        about.push({ label: '$(shield) Restricted Mode', detail: RESTRICTED_LINE, command: 'workbench.trust.manage' });
    }
    const actions: StatusAction[] = [
        ...about,
        ...warnings,
        enabled
            ? { label: '$(circle-slash) Disable completions', command: Commands.disable }
            : { label: '$(check) Enable completions', command: Commands.enable },
        { label: '$(debug-restart) Restart server', command: Commands.restart },
        { label: '$(output) Show log', command: Commands.showLog },
        { label: '$(pulse) Run doctor', detail: 'infill-ls doctor: build, model, speed, grammars, problems', command: Commands.doctor },
    ];
    const model = status.model !== null ? ` — ${status.model}` : '';
    const picked = await vscode.window.showQuickPick(actions, { placeHolder: `infill-ls: ${status.state}${model}` });
    if (picked !== undefined) {
        await vscode.commands.executeCommand(picked.command);
    }
}

/** Flips `infill.completion.enabled`; the settings watcher then tells the server and the status bar. */
async function toggleCompletions(enabled: boolean, log: vscode.LogOutputChannel): Promise<void> {
    try {
        await setCompletionEnabled(enabled);
    } catch (error) {
        const message = `Could not ${enabled ? 'enable' : 'disable'} completions: ${String(error)}`;
        log.error(message);
        void vscode.window.showErrorMessage(`infill-ls: ${message}`);
    }
}

export function activate(context: vscode.ExtensionContext): void {
    const log = vscode.window.createOutputChannel('infill-ls', { log: true });
    const doctorOutput = vscode.window.createOutputChannel('infill-ls doctor');
    const statusBar = new StatusBar();
    statusBar.setRestricted(!vscode.workspace.isTrusted);
    statusBar.setActiveDocument(vscode.window.activeTextEditor?.document.uri.toString());
    const serverManager = new ServerManager(log, statusBar);
    manager = serverManager;
    let doctorRunning = false;

    context.subscriptions.push(
        log,
        doctorOutput,
        statusBar,
        vscode.commands.registerCommand(Commands.enable, () => toggleCompletions(true, log)),
        vscode.commands.registerCommand(Commands.disable, () => toggleCompletions(false, log)),
        vscode.commands.registerCommand(Commands.restart, () => serverManager.restart()),
        vscode.commands.registerCommand(Commands.showLog, () => {
            log.show();
        }),
        vscode.commands.registerCommand(Commands.showStatus, () => showStatus(statusBar, log)),
        vscode.commands.registerCommand(Commands.doctor, async () => {
            if (doctorRunning) {
                doctorOutput.show(true);
                return;
            }
            doctorRunning = true;
            try {
                await serverManager.doctor(doctorOutput);
            } catch (error) {
                log.error(`infill-ls doctor: ${String(error)}`);
                void vscode.window.showErrorMessage(`infill-ls doctor: ${String(error)}`);
            } finally {
                doctorRunning = false;
            }
        }),
        vscode.window.onDidChangeActiveTextEditor((editor) => {
            statusBar.setActiveDocument(editor?.document.uri.toString());
            serverManager.focus(editor);
        }),
        // Trust changes what may run (the Python extension's interpreter) and the settings in effect.
        vscode.workspace.onDidGrantWorkspaceTrust(() => {
            log.info('The workspace is trusted now: restarting the server with its settings.');
            statusBar.setRestricted(false);
            void serverManager.restart();
        }),
        vscode.workspace.onDidChangeConfiguration((event) => {
            const change = classifyChange(event);
            if (change === 'restart') {
                void serverManager.restart();
            } else if (change === 'push') {
                serverManager.pushSettings();
            }
        }),
    );

    // Not awaited: the editor stays usable while the server starts and loads its model.
    void serverManager.start();
}

/** Stops the server (shutdown, exit, kill if it lingers) so no process outlives the extension host. */
export async function deactivate(): Promise<void> {
    const current = manager;
    manager = undefined;
    await current?.shutdown();
}
