/**
 * The status bar item: the model's state, load progress, the active file's route (local, remote, kept local
 * and why), Restricted Mode, and a click target for details and actions.
 */
import * as vscode from 'vscode';
import { Commands } from './common/commands';
import { activeRoute, presentStatus, ProgressTracker, Route, severityBackground, Status } from './common/status';

export class StatusBar implements vscode.Disposable {
    readonly progress = new ProgressTracker();
    private readonly item: vscode.StatusBarItem;
    private status: Status = { state: 'starting', message: '', model: null, warnings: [] };
    private completionEnabled = true;
    private activeUri: string | undefined;
    private restricted = false;

    constructor() {
        this.item = vscode.window.createStatusBarItem('infill.status', vscode.StatusBarAlignment.Right, 100);
        this.item.name = 'infill-ls';
        this.item.command = Commands.showStatus;
        this.render();
        this.item.show();
    }

    get current(): Status {
        return this.status;
    }

    setStatus(status: Status): void {
        this.status = status;
        if (status.state === 'stopped' || status.state === 'error') {
            // A dead or failed server ends no progress it started.
            this.progress.clear();
        }
        this.render();
    }

    setCompletionEnabled(enabled: boolean): void {
        this.completionEnabled = enabled;
        this.render();
    }

    /** The active editor's document (its URI as VS Code writes it), or undefined without one. */
    setActiveDocument(uri: string | undefined): void {
        this.activeUri = uri;
        this.render();
    }

    /** Whether the workspace is untrusted (Restricted Mode). */
    setRestricted(restricted: boolean): void {
        this.restricted = restricted;
        this.render();
    }

    /** The route of the active file, when the server's status is about it. */
    get route(): Route | null {
        return activeRoute(this.status, this.activeUri);
    }

    get isRestricted(): boolean {
        return this.restricted;
    }

    render(): void {
        const view = presentStatus(this.status, this.progress.current(), this.completionEnabled, {
            activeUri: this.activeUri,
            restricted: this.restricted,
        });
        this.item.text = view.text;
        // A tooltip of several lines (the warnings) as markdown, whose appendText keeps the line breaks.
        this.item.tooltip = view.tooltip.includes('\n') ? new vscode.MarkdownString().appendText(view.tooltip) : view.tooltip;
        const background = severityBackground(view.severity);
        this.item.backgroundColor = background !== undefined ? new vscode.ThemeColor(background) : undefined;
    }

    dispose(): void {
        this.item.dispose();
    }
}
