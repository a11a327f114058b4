/**
 * **infill: Run Doctor**: `infill-ls doctor` with the editor's settings, started like the server (same
 * command, working directory and environment), its report streamed into the "infill-ls doctor" output.
 * The active file (if it is one on disk) is named too, so the report says where its content may go.
 */
import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { doctorSummary, parseDoctorReport } from './common/doctor';
import { describeCommand, doctorCommand, ServerCommand, serverExecutable } from './common/serverCommand';
import { JsonObject } from './common/settings';

export async function runDoctor(
    command: ServerCommand,
    settings: JsonObject,
    cwd: string,
    output: vscode.OutputChannel,
    log: vscode.LogOutputChannel,
    files: readonly string[] = [],
): Promise<void> {
    const directory = await mkdtemp(path.join(tmpdir(), 'infill-doctor-'));
    let result: { text: string; code: number | null; signal: string | null };
    try {
        const settingsFile = path.join(directory, 'settings.json');
        await writeFile(settingsFile, JSON.stringify(settings), 'utf8');
        const doctor = doctorCommand(command, settingsFile, files);
        const executable = serverExecutable(doctor, cwd, process.env);
        output.clear();
        output.appendLine(`$ ${describeCommand(doctor)}`);
        output.show(true);
        log.info(`Running ${describeCommand(doctor)}`);
        result = await vscode.window.withProgress(
            { location: vscode.ProgressLocation.Notification, title: 'infill-ls doctor', cancellable: true },
            (_progress, token) =>
                new Promise<{ text: string; code: number | null; signal: string | null }>((resolve) => {
                    let text = '';
                    const child = spawn(executable.command, executable.args, {
                        ...executable.options,
                        stdio: ['ignore', 'pipe', 'pipe'],
                    });
                    const take = (chunk: Buffer): void => {
                        const piece = chunk.toString('utf8');
                        text += piece;
                        output.append(piece);
                    };
                    child.stdout.on('data', take);
                    child.stderr.on('data', take);
                    const cancel = token.onCancellationRequested(() => child.kill());
                    child.on('error', (error) => {
                        output.appendLine(`could not start it: ${error.message}`);
                    });
                    child.on('close', (code, signal) => {
                        cancel.dispose();
                        resolve({ text, code, signal });
                    });
                }),
        );
    } finally {
        await rm(directory, { recursive: true, force: true });
    }
    output.appendLine(`(exit status ${result.signal ?? String(result.code)})`);
    const report = parseDoctorReport(result.text);
    const summary = doctorSummary(report, result.code, result.signal);
    log.info(summary);
    const show =
        report.complete && report.problems.length === 0
            ? vscode.window.showInformationMessage(summary, 'Show Output')
            : vscode.window.showWarningMessage(summary, 'Show Output');
    if ((await show) === 'Show Output') {
        output.show();
    }
}
