/**
 * Drives the real infill-ls over stdio with the protocol library the extension uses, sending what the extension
 * sends (VS Code-like capabilities, settings from common/settings) and checking what the extension relies on:
 * the inline completion capability, `infill/status`, `$/progress` percentages, ghost text, the enable toggle,
 * and a clean shutdown/exit that leaves no process behind.
 *
 * Server command: env INFILL_LS_COMMAND (a JSON list), else `<repo>/.venv/bin/python -m lsp_server`.
 */
import assert from 'node:assert/strict';
import { ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import { after, before, describe, it } from 'node:test';
import {
    ConfigurationRequest,
    createProtocolConnection,
    DidChangeConfigurationNotification,
    DidChangeTextDocumentNotification,
    DidOpenTextDocumentNotification,
    ExitNotification,
    InitializedNotification,
    InitializeRequest,
    InlineCompletionList,
    InlineCompletionRequest,
    InlineCompletionTriggerKind,
    InlineCompletionItem,
    MessageType,
    ProtocolConnection,
    RegistrationRequest,
    ShowMessageNotification,
    ShutdownRequest,
    StreamMessageReader,
    StreamMessageWriter,
    UnregistrationRequest,
    WorkDoneProgress,
    WorkDoneProgressCreateRequest,
} from 'vscode-languageserver-protocol/node';
import { configurationAnswers, JsonObject, JsonValue, toServerSettings } from '../src/common/settings';
import { serverExecutable } from '../src/common/serverCommand';
import { parseStatus, ProgressTracker, Status, STATUS_NOTIFICATION } from '../src/common/status';

const repoRoot = path.resolve(__dirname, '..', '..', '..', '..');
const packageRoot = path.resolve(__dirname, '..', '..');
/** Generous: the first run loads a 253 MB model on a shared 2-core machine. */
const READY_TIMEOUT_MS = 150_000;
const EXIT_TIMEOUT_MS = 15_000;

function serverCommand(): { argv: string[]; skip: string | false } {
    const fromEnv = process.env.INFILL_LS_COMMAND;
    if (fromEnv !== undefined && fromEnv.length > 0) {
        const parsed: unknown = JSON.parse(fromEnv);
        assert.ok(
            Array.isArray(parsed) && parsed.length > 0 && parsed.every((part) => typeof part === 'string'),
            'INFILL_LS_COMMAND must be a JSON list of strings',
        );
        return { argv: parsed, skip: false };
    }
    const python = path.join(repoRoot, '.venv', 'bin', 'python');
    const skip = existsSync(python) ? false : `no ${python}; set INFILL_LS_COMMAND`;
    return { argv: [python, '-m', 'lsp_server'], skip };
}

/** The `infill` section as VS Code builds it from package.json defaults (client-only groups included). */
function vscodeDefaultSettings(): JsonObject {
    const manifest = JSON.parse(readFileSync(path.join(packageRoot, 'package.json'), 'utf8')) as {
        contributes: { configuration: { properties: Record<string, { default?: JsonValue }> } };
    };
    const settings: JsonObject = {};
    for (const [key, schema] of Object.entries(manifest.contributes.configuration.properties)) {
        const [, group, name] = key.split('.');
        if (group === undefined || name === undefined || schema.default === undefined) {
            continue;
        }
        const groupObject = (settings[group] ??= {}) as JsonObject;
        groupObject[name] = schema.default;
    }
    return settings;
}

function itemsOf(result: InlineCompletionList | InlineCompletionItem[] | null): InlineCompletionItem[] {
    if (result === null) {
        return [];
    }
    return Array.isArray(result) ? result : result.items;
}

function insertTextOf(item: InlineCompletionItem): string {
    return typeof item.insertText === 'string' ? item.insertText : item.insertText.value;
}

const { argv, skip } = serverCommand();

describe('the real server over stdio', { skip, timeout: READY_TIMEOUT_MS + 60_000 }, () => {
    let workspace = '';
    let child: ChildProcess | undefined;
    let connection: ProtocolConnection | undefined;
    let exitCode: Promise<number | null> = Promise.resolve(null);
    const statuses: Status[] = [];
    /** The params as sent, to check the fields the parser would otherwise default. */
    const rawStatuses: unknown[] = [];
    const statusWaiters: (() => void)[] = [];
    const messages: { type: MessageType; message: string }[] = [];
    /** What VS Code would pop up as an error (pygls reports handler exceptions this way). */
    const errorMessages = (): string[] => messages.filter((m) => m.type === MessageType.Error).map((m) => m.message);
    const progress = new ProgressTracker();
    const percentagesSeen: number[] = [];
    // A shared CI machine may be slow: a generous budget keeps the first suggestion from timing out empty.
    const defaults = vscodeDefaultSettings();
    let rawSettings: JsonObject = {
        ...defaults,
        completion: { ...(defaults.completion as JsonObject | undefined), timeBudgetMs: 30_000 },
    };
    let suggestionsWhileEnabled = 0;

    function waitForStatus(accept: (status: Status) => boolean, timeoutMs: number): Promise<Status> {
        return new Promise((resolve, reject) => {
            const timer = setTimeout(() => {
                reject(new Error(`no matching ${STATUS_NOTIFICATION} in ${timeoutMs} ms; got ${JSON.stringify(statuses)}`));
            }, timeoutMs);
            const check = (): void => {
                const match = statuses.find(accept);
                if (match === undefined) {
                    statusWaiters.push(check); // look again at the next notification
                    return;
                }
                clearTimeout(timer);
                resolve(match);
            };
            check();
        });
    }

    function rpc(): ProtocolConnection {
        assert.ok(connection, 'connection is open');
        return connection;
    }

    before(() => {
        workspace = mkdtempSync(path.join(tmpdir(), 'infill-vscode-'));
        const [command, ...args] = argv as [string, ...string[]];
        // Launched exactly as the extension launches it (same argv, cwd and environment rules).
        const executable = serverExecutable({ command, args }, workspace, {
            ...process.env,
            PYTHONPATH: [repoRoot, process.env.PYTHONPATH].filter(Boolean).join(path.delimiter),
        });
        const proc = spawn(executable.command, executable.args, { ...executable.options, stdio: ['pipe', 'pipe', 'pipe'] });
        child = proc;
        exitCode = new Promise((resolve) => proc.on('exit', (code) => { resolve(code); }));
        proc.stderr.resume(); // the server logs there; never let the pipe fill up
        const conn = createProtocolConnection(new StreamMessageReader(proc.stdout), new StreamMessageWriter(proc.stdin));
        connection = conn;
        conn.onRequest(ConfigurationRequest.type, (params) =>
            configurationAnswers(params.items, () => toServerSettings(rawSettings), []),
        );
        // As vscode-languageclient does: follow each token the server creates.
        conn.onRequest(WorkDoneProgressCreateRequest.type, ({ token }) => {
            conn.onProgress(WorkDoneProgress.type, token, (value) => {
                progress.update(token, value);
                const percentage = progress.current()?.percentage;
                if (percentage !== undefined) {
                    percentagesSeen.push(percentage);
                }
            });
        });
        conn.onRequest(RegistrationRequest.type, () => undefined);
        conn.onRequest(UnregistrationRequest.type, () => undefined);
        conn.onNotification(ShowMessageNotification.type, (params) => {
            messages.push(params);
        });
        conn.onNotification(STATUS_NOTIFICATION, (params: unknown) => {
            const status = parseStatus(params);
            assert.ok(status, `well-formed ${STATUS_NOTIFICATION}: ${JSON.stringify(params)}`);
            rawStatuses.push(params);
            statuses.push(status);
            for (const waiter of statusWaiters.splice(0)) {
                waiter();
            }
        });
        conn.listen();
    });

    after(() => {
        connection?.dispose();
        if (child !== undefined && child.exitCode === null && child.signalCode === null) {
            child.kill('SIGKILL');
        }
        rmSync(workspace, { recursive: true, force: true });
    });

    it('initializes with VS Code-like capabilities and offers inline completion', async () => {
        const folder = pathToFileURL(workspace).href;
        const result = await rpc().sendRequest(InitializeRequest.type, {
            processId: process.pid,
            clientInfo: { name: 'Visual Studio Code', version: '1.91.0' },
            locale: 'en',
            // eslint-disable-next-line @typescript-eslint/no-deprecated -- VS Code still sends it; servers still read it
            rootUri: folder,
            workspaceFolders: [{ uri: folder, name: 'workspace' }],
            initializationOptions: toServerSettings(rawSettings),
            capabilities: {
                general: { positionEncodings: ['utf-16'] },
                window: { workDoneProgress: true, showMessage: { messageActionItem: { additionalPropertiesSupport: true } } },
                workspace: {
                    configuration: true,
                    workspaceFolders: true,
                    didChangeConfiguration: { dynamicRegistration: true },
                },
                textDocument: {
                    synchronization: { dynamicRegistration: true, willSave: true, didSave: true },
                    inlineCompletion: { dynamicRegistration: true },
                },
            },
        });
        assert.ok(result.capabilities.inlineCompletionProvider, 'server advertises inlineCompletionProvider');
        await rpc().sendNotification(InitializedNotification.type, {});
    });

    it('reports the model ready through infill/status, with $/progress percentages', async () => {
        const status = await waitForStatus((s) => s.state !== 'loading', READY_TIMEOUT_MS);
        assert.equal(status.state, 'ready', `model state: ${JSON.stringify(status)}`);
        // Every notification carries the self-check warnings as a list of strings (empty when all is well).
        for (const raw of rawStatuses) {
            const warnings = (raw as { warnings?: unknown }).warnings;
            assert.ok(Array.isArray(warnings), `infill/status has a warnings list: ${JSON.stringify(raw)}`);
            assert.ok(
                warnings.every((w) => typeof w === 'string'),
                `warnings are strings: ${JSON.stringify(raw)}`,
            );
        }
        assert.ok(percentagesSeen.length > 0, 'load progress carried a percentage');
        assert.equal(progress.current(), undefined, 'load progress ended');
        assert.deepEqual(errorMessages(), []);
        assert.deepEqual(
            messages.filter((m) => /invalid settings/i.test(m.message)),
            [],
            'the server accepts the settings the extension sends',
        );
    });

    interface Sample {
        readonly name: string;
        readonly text: string;
        readonly cursor: { line: number; character: number };
    }
    /** Code after the cursor: the usual fill-in-the-middle case. */
    const middle: Sample = {
        name: 'middle.py',
        text: 'def add(a, b):\n    """Return the sum of a and b."""\n    return \n\n\nprint(add(1, 2))\n',
        cursor: { line: 2, character: '    return '.length },
    };
    /** The cursor at the very end of a file without a final newline. */
    const endOfFile: Sample = {
        name: 'end.py',
        text: 'def sub(a, b):\n    """Return a minus b."""\n    return ',
        cursor: { line: 2, character: '    return '.length },
    };
    const uriOf = (sample: Sample): string => pathToFileURL(path.join(workspace, sample.name)).href;

    async function complete(sample: Sample, triggerKind: InlineCompletionTriggerKind): Promise<InlineCompletionItem[]> {
        const result = await rpc().sendRequest(InlineCompletionRequest.type, {
            textDocument: { uri: uriOf(sample) },
            position: sample.cursor,
            context: { triggerKind },
        });
        return itemsOf(result);
    }

    async function open(sample: Sample): Promise<void> {
        writeFileSync(path.join(workspace, sample.name), sample.text);
        await rpc().sendNotification(DidOpenTextDocumentNotification.type, {
            textDocument: { uri: uriOf(sample), languageId: 'python', version: 1, text: sample.text },
        });
    }

    /**
     * VS Code shows an item only if its range, clamped to the document the way TextModel.validatePosition does,
     * starts on the cursor's line at or before the cursor and ends at or after it.
     */
    function assertShowable(item: InlineCompletionItem, sample: Sample): void {
        assert.ok(insertTextOf(item).trim().length > 0, 'the suggestion is not blank');
        if (item.range === undefined) {
            return;
        }
        const lines = sample.text.split('\n');
        const clamp = (position: { line: number; character: number }): { line: number; character: number } => {
            if (position.line >= lines.length) {
                const last = lines.length - 1;
                return { line: last, character: (lines[last] ?? '').length };
            }
            return { line: position.line, character: Math.min(position.character, (lines[position.line] ?? '').length) };
        };
        const start = clamp(item.range.start);
        const end = clamp(item.range.end);
        const { cursor } = sample;
        assert.equal(start.line, cursor.line, `range ${JSON.stringify(item.range)} starts on the cursor line`);
        assert.ok(start.character <= cursor.character, `range ${JSON.stringify(item.range)} starts at or before the cursor`);
        assert.ok(
            end.line > cursor.line || (end.line === cursor.line && end.character >= cursor.character),
            `range ${JSON.stringify(item.range)} ends at or after the cursor`,
        );
    }

    it('returns ghost text with code after the cursor, after an incremental edit like typing', async () => {
        // Open the file one character short of the cursor, then type the space as VS Code reports it.
        const typedAt = { line: middle.cursor.line, character: middle.cursor.character - 1 };
        const lines = middle.text.split('\n');
        lines[typedAt.line] = (lines[typedAt.line] ?? '').slice(0, typedAt.character);
        await open({ ...middle, text: lines.join('\n') });
        await rpc().sendNotification(DidChangeTextDocumentNotification.type, {
            textDocument: { uri: uriOf(middle), version: 2 },
            contentChanges: [{ range: { start: typedAt, end: typedAt }, rangeLength: 0, text: ' ' }],
        });
        const items = await complete(middle, InlineCompletionTriggerKind.Automatic);
        assert.deepEqual(errorMessages(), [], 'the server handled the edit without an error');
        suggestionsWhileEnabled = items.length;
        assert.ok(items[0], 'at least one suggestion');
        assertShowable(items[0], middle);
        if (items[0].range !== undefined) {
            // No clamping is needed inside the document: the server's range is exact there.
            assert.equal(items[0].range.start.line, middle.cursor.line);
        }
    });

    it('returns ghost text at the end of a file without a final newline', async () => {
        await open(endOfFile);
        const items = await complete(endOfFile, InlineCompletionTriggerKind.Invoked);
        suggestionsWhileEnabled += items.length;
        assert.ok(items[0], 'at least one suggestion');
        assertShowable(items[0], endOfFile);
    });

    it('stops suggesting after infill.disable pushes completion.enabled = false', async () => {
        assert.ok(suggestionsWhileEnabled > 0, 'the same requests got suggestions while enabled');
        rawSettings = { ...rawSettings, completion: { ...(rawSettings.completion as JsonObject), enabled: false } };
        await rpc().sendNotification(DidChangeConfigurationNotification.type, {
            settings: { infill: toServerSettings(rawSettings) },
        });
        assert.deepEqual(await complete(middle, InlineCompletionTriggerKind.Invoked), []);
        assert.deepEqual(await complete(endOfFile, InlineCompletionTriggerKind.Invoked), []);
    });

    it('shuts down and exits, leaving no process', async () => {
        await rpc().sendRequest(ShutdownRequest.type);
        await rpc().sendNotification(ExitNotification.type);
        const timeout = new Promise<'timeout'>((resolve) => setTimeout(() => { resolve('timeout'); }, EXIT_TIMEOUT_MS).unref());
        const code = await Promise.race([exitCode, timeout]);
        assert.equal(code, 0, 'the server exits with status 0 after shutdown + exit');
    });
});
