/** The status bar item: the model's state, load progress, and a click target for details and actions. */
import * as vscode from 'vscode';
import { Commands } from './common/commands';
import { presentStatus, ProgressTracker, severityBackground, Status } from './common/status';

export class StatusBar implements vscode.Disposable {
    readonly progress = new ProgressTracker();
    private readonly item: vscode.StatusBarItem;
    private status: Status = { state: 'starting', message: '', model: null, warnings: [] };
    private completionEnabled = true;

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

    render(): void {
        const view = presentStatus(this.status, this.progress.current(), this.completionEnabled);
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
