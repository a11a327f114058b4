// Drives the infill-ls VS Code extension in a real VS Code: code-server serves VS Code's web workbench on
// loopback, headless Chromium (Debian's, through playwright-core; nothing is downloaded) opens it, and this
// script acts as a user would: open a Python file, type, wait for the inline suggestion in the editor's DOM,
// take a screenshot, accept it with Tab, save. tests/editors/test_vscode_browser.py writes the scenario
// (a JSON file, argv[2]) and checks the saved file; this script prints one line `RESULT {json}` at the end.
//
// Every wait is for a condition in the page or on disk, with a deadline (no fixed sleeps). On a failure the
// page is screenshotted (failure.png) and the workbench's state is printed.
import { spawn } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { chromium } from 'playwright-core';

const scenario = JSON.parse(readFileSync(process.argv[2], 'utf8'));
const {
    codeServer, // node_modules/.bin/code-server
    chromiumPath, // /usr/bin/chromium
    vsix, // the packaged extension
    scratch, // code-server's user data, extensions, config and the browser profile go here
    workspace, // the folder VS Code opens
    file, // the file to open, relative to the workspace
    typed, // what to type at the end of the file
    outDir, // screenshots
    userSettings, // VS Code user settings (settings.json)
    trusted, // false: the workspace opens in Restricted Mode
    doctor, // also run "infill: Run Doctor" and wait for its report
    timeoutMs, // for each wait
} = scenario;

const log = (message) => process.stderr.write(`[drive ${new Date().toISOString().slice(11, 23)}] ${message}\n`);
const children = [];
let page;
let context;

function run(argv, options = {}) {
    return new Promise((resolve, reject) => {
        const child = spawn(argv[0], argv.slice(1), { stdio: ['ignore', 'pipe', 'pipe'], ...options });
        let output = '';
        child.stdout.on('data', (chunk) => (output += chunk));
        child.stderr.on('data', (chunk) => (output += chunk));
        child.on('error', reject);
        child.on('close', (code) => (code === 0 ? resolve(output) : reject(new Error(`${argv.join(' ')}: exit ${code}\n${output}`))));
    });
}

/** Starts code-server on a free loopback port; resolves with the port once it listens. */
function startCodeServer(args) {
    return new Promise((resolve, reject) => {
        const child = spawn(codeServer, args, { stdio: ['ignore', 'pipe', 'pipe'], detached: true });
        children.push(child);
        let output = '';
        const timer = setTimeout(() => reject(new Error(`code-server did not listen within ${timeoutMs} ms:\n${output}`)), timeoutMs);
        const take = (chunk) => {
            output += chunk;
            process.stderr.write(chunk.toString().replace(/^/gm, '[code-server] '));
            const match = /HTTP server listening on http:\/\/127\.0\.0\.1:(\d+)/.exec(output);
            if (match) {
                clearTimeout(timer);
                resolve(Number(match[1]));
            }
        };
        child.stdout.on('data', take);
        child.stderr.on('data', take);
        child.on('exit', (code) => {
            clearTimeout(timer);
            reject(new Error(`code-server exited (${code}) before listening:\n${output}`));
        });
    });
}

/** The workbench's state, for failure messages. */
async function describePage() {
    if (page === undefined) {
        return 'no page';
    }
    return page
        .evaluate(() => {
            const text = (selector) => [...document.querySelectorAll(selector)].map((element) => element.textContent.trim()).filter(Boolean);
            return JSON.stringify(
                {
                    statusBar: text('.statusbar-item'),
                    notifications: text('.notification-list-item-message'),
                    dialogs: text('.monaco-dialog-box'),
                    editorTabs: [...document.querySelectorAll('.tabs-container .tab')].map((tab) => `${tab.textContent.trim()} [${tab.className}]`),
                    activeLine: text('.monaco-editor .view-line').slice(-5),
                    ghost: text('.ghost-text-decoration, .ghost-text'),
                },
                null,
                2,
            );
        })
        .catch((error) => `page not readable: ${error}`);
}

async function waitFor(what, predicate, arg) {
    log(`waiting for ${what}`);
    try {
        const handle = await page.waitForFunction(predicate, arg, { timeout: timeoutMs, polling: 100 });
        return await handle.jsonValue();
    } catch (error) {
        throw new Error(`timed out waiting for ${what} (${timeoutMs} ms): ${error.message.split('\n')[0]}\n${await describePage()}`);
    }
}

/** The infill status bar item: its text with each codicon as $(name), and its aria label. */
function statusItem() {
    for (const item of document.querySelectorAll('.statusbar-item')) {
        const label = item.querySelector('.statusbar-item-label') ?? item;
        if (!/\binfill\b/.test(label.textContent)) {
            continue;
        }
        let text = '';
        const walker = document.createTreeWalker(label, NodeFilter.SHOW_ELEMENT | NodeFilter.SHOW_TEXT);
        for (let node = walker.currentNode; node !== null; node = walker.nextNode()) {
            if (node.nodeType === Node.TEXT_NODE) {
                text += node.textContent;
            } else if (node.classList.contains('codicon')) {
                const icon = [...node.classList].find((name) => name.startsWith('codicon-') && name !== 'codicon-modifier-spin');
                text += icon ? `$(${icon.slice('codicon-'.length)})` : '';
            }
        }
        // The accessible label is the text and the tooltip, the tooltip as escaped markdown.
        const aria = (label.getAttribute('aria-label') ?? item.getAttribute('aria-label') ?? '')
            .replace(/&nbsp;/g, ' ')
            .replace(/\\([\\`*_{}[\]()#+\-.!|<>])/g, '$1');
        return { text: text.replace(/\s+/g, ' ').trim(), aria };
    }
    return null;
}

/** The ghost text on screen: the inline part on the cursor line, then the lines VS Code adds below it. */
function ghostText() {
    const editor = document.querySelector('.editor-instance .monaco-editor') ?? document.querySelector('.monaco-editor');
    if (!editor) {
        return null;
    }
    const clean = (text) => text.replace(/\u00a0/g, ' ');
    const inline = [...editor.querySelectorAll('.ghost-text-decoration')].map((span) => clean(span.textContent)).join('');
    const lines = [...editor.querySelectorAll('.ghost-text .view-line')].map((line) => clean(line.textContent));
    if (inline.length === 0 && lines.length === 0) {
        return null;
    }
    return [inline, ...lines].join('\n');
}

/** Stops code-server and what it started (its process group: the extension host, the language server). */
async function stop(child) {
    const signal = (name) => {
        try {
            process.kill(-child.pid, name);
        } catch {
            // already gone
        }
    };
    if (child.exitCode !== null || child.signalCode !== null) {
        signal('SIGKILL'); // children it may have left
        return;
    }
    const exited = new Promise((resolve) => child.once('exit', resolve));
    signal('SIGTERM');
    const timer = setTimeout(() => signal('SIGKILL'), 10_000);
    await exited;
    clearTimeout(timer);
    signal('SIGKILL');
}

async function screenshot(name) {
    const file = path.join(outDir, name);
    await page.screenshot({ path: file });
    log(`screenshot ${file}`);
    return file;
}

async function main() {
    mkdirSync(outDir, { recursive: true });
    const userData = path.join(scratch, 'user-data');
    const extensions = path.join(scratch, 'extensions');
    const config = path.join(scratch, 'config.yaml');
    mkdirSync(path.join(userData, 'User'), { recursive: true });
    writeFileSync(path.join(userData, 'User', 'settings.json'), JSON.stringify(userSettings, null, 2));
    writeFileSync(config, 'auth: none\n');
    const common = ['--config', config, '--user-data-dir', userData, '--extensions-dir', extensions];

    log(`installing ${vsix}`);
    const installed = await run([codeServer, ...common, '--install-extension', vsix, '--force']);
    log(installed.trim());
    const listed = await run([codeServer, ...common, '--list-extensions', '--show-versions']);
    if (!/^infill-ls\.infill-ls@/m.test(listed)) {
        throw new Error(`the extension is not installed: ${listed}`);
    }

    const port = await startCodeServer([
        ...common,
        '--auth', 'none',
        '--bind-addr', '127.0.0.1:0',
        '--disable-telemetry',
        '--disable-update-check',
        '--disable-getting-started-override',
        '--ignore-last-opened',
        ...(trusted ? ['--disable-workspace-trust'] : []),
        workspace,
    ]);

    context = await chromium.launchPersistentContext(path.join(scratch, 'chromium-profile'), {
        executablePath: chromiumPath,
        headless: true,
        args: [
            '--headless',
            '--no-sandbox',
            '--disable-gpu',
            '--disable-quic',
            '--no-first-run',
            '--disable-background-networking',
            '--disable-component-update',
            '--disable-sync',
        ],
        viewport: { width: 1280, height: 800 },
    });
    // The DOM readers above, in the page (functions without closures, so their source is all they need).
    await context.addInitScript({ content: `window.__infill = { statusItem: ${statusItem}, ghostText: ${ghostText} };` });
    page = context.pages()[0] ?? (await context.newPage());
    page.on('pageerror', (error) => log(`page error: ${error.message}`));
    await page.goto(`http://127.0.0.1:${port}/?folder=${encodeURIComponent(workspace)}`);
    await waitFor('the workbench', () => document.querySelector('.monaco-workbench .part.statusbar') !== null);

    // Open the file with Quick Open, as a user would.
    await waitFor('the explorer', (name) => [...document.querySelectorAll('.explorer-folders-view .monaco-list-row')].some((row) => row.textContent.includes(name)), file);
    await page.keyboard.press('Control+P');
    await waitFor('Quick Open', () => document.querySelector('.quick-input-widget .quick-input-box input') === document.activeElement);
    await page.keyboard.type(file);
    await waitFor('the file in Quick Open', (name) => [...document.querySelectorAll('.quick-input-list .monaco-list-row')].some((row) => row.textContent.includes(name)), file);
    await page.keyboard.press('Enter');
    await waitFor('the editor', (name) => {
        const tab = document.querySelector('.tabs-container .tab.active');
        const input = document.querySelector('.editor-instance .monaco-editor textarea');
        return tab !== null && tab.textContent.includes(name) && input !== null && document.activeElement === input;
    }, file);

    const ready = await waitFor('infill ready in the status bar', () => {
        const item = window.__infill.statusItem();
        return item !== null && /^\$\((check|warning)\) infill/.test(item.text) ? item : false;
    });
    log(`status bar: ${JSON.stringify(ready)}`);

    let restrictedAction = null;
    if (!trusted) {
        // The status bar's menu says the workspace is in Restricted Mode.
        await page.locator('.statusbar-item', { hasText: 'infill' }).first().click();
        restrictedAction = await waitFor('the Restricted Mode entry in the infill menu', () => {
            const rows = [...document.querySelectorAll('.quick-input-list .monaco-list-row')].map((row) => row.textContent);
            return rows.find((text) => text.includes('Restricted Mode')) ?? false;
        });
        await page.keyboard.press('Escape');
        await waitFor('the menu to close', () => !document.querySelector('.quick-input-widget') || document.querySelector('.quick-input-widget').style.display === 'none');
        await page.locator('.editor-instance .monaco-editor .view-lines').click();
    }

    // Type at the end of the file; the extension asks the server as VS Code requests inline completions.
    const original = readFileSync(path.join(workspace, file), 'utf8');
    await page.keyboard.press('Control+End');
    await page.keyboard.type(typed, { delay: 40 });
    const shown = await waitFor('ghost text', () => window.__infill.ghostText() ?? false);
    log(`ghost text: ${JSON.stringify(shown)}`);
    const suggestionShot = await screenshot('inline-suggestion.png');

    await page.keyboard.press('Tab');
    // Accepted: no ghost text, and the editor's lines hold what it showed (its first line after what was typed).
    const expectedLine = `${original.split('\n').pop()}${typed}${shown.split('\n')[0]}`;
    await waitFor('the suggestion to be accepted', (line) => {
        const lines = [...document.querySelectorAll('.editor-instance .monaco-editor .view-line')];
        return window.__infill.ghostText() === null
            && lines.some((element) => element.textContent.replace(/\u00a0/g, ' ') === line)
            && document.querySelector('.tabs-container .tab.active.dirty') !== null;
    }, expectedLine);
    await page.keyboard.press('Control+S');
    // VS Code writes a file in chunks: read it once the editor says the save is done.
    await waitFor('the save', () => document.querySelector('.tabs-container .tab.active.dirty') === null);
    const text = readFileSync(path.join(workspace, file), 'utf8');
    if (text === original) {
        throw new Error(`saving did not change ${file}\n${await describePage()}`);
    }
    const acceptedShot = await screenshot('accepted.png');

    let doctorReport = null;
    let doctorOutput = null;
    if (doctor) {
        await page.keyboard.press('F1');
        await waitFor('the command palette', () => document.querySelector('.quick-input-widget .quick-input-box input') === document.activeElement);
        await page.keyboard.type('infill: Run Doctor');
        await waitFor('the Run Doctor command', () => [...document.querySelectorAll('.quick-input-list .monaco-list-row')].some((row) => row.textContent.includes('Run Doctor')));
        await page.keyboard.press('Enter');
        doctorReport = await waitFor('the doctor report in a notification', () => {
            const messages = [...document.querySelectorAll('.notification-list-item-message')].map((element) => element.textContent);
            // The summary, not the progress notification's title ("infill-ls doctor").
            return messages.find((message) => /^infill-ls doctor(:| found| was stopped| exited)/.test(message)) ?? false;
        });
        log(`doctor: ${doctorReport}`);
        // Its report in the "infill-ls doctor" output (scrolled to its end).
        doctorOutput = await waitFor('the doctor output', () => {
            const lines = [...document.querySelectorAll('.output-view .view-line')].map((line) => line.textContent.replace(/\u00a0/g, ' '));
            return lines.some((line) => line.startsWith('(exit status')) ? lines : false;
        });
        await screenshot('doctor.png');
    }

    const status = await page.evaluate(() => window.__infill.statusItem());
    return { ghost: shown, text, status, readyStatus: ready, restrictedAction, doctor: doctorReport, doctorOutput, screenshots: [suggestionShot, acceptedShot] };
}

let exitCode = 0;
try {
    const result = await main();
    process.stdout.write(`RESULT ${JSON.stringify(result)}\n`);
} catch (error) {
    exitCode = 1;
    process.stderr.write(`${error.stack ?? error}\n`);
    if (page !== undefined) {
        await screenshot('failure.png').catch(() => undefined);
    }
} finally {
    await context?.close().catch(() => undefined);
    for (const child of children) {
        await stop(child);
    }
}
process.exit(exitCode);
