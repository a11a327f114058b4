/**
 * The server runs with the workspace folder as its working directory. `python -m` puts that directory first
 * on sys.path, so a workspace with an `lsp_server/` of its own would run its code instead of the server:
 * the environment serverExecutable() gives (PYTHONSAFEPATH) must prevent it, with a real interpreter.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { moduleCheckArgs, serverExecutable, ServerCommand } from '../src/common/serverCommand';

const repoRoot = path.resolve(__dirname, '..', '..', '..', '..');

/** The interpreter of INFILL_LS_COMMAND (`[python, -m, lsp_server]`), else the checkout's .venv. */
function python(): string | undefined {
    const fromEnv = process.env.INFILL_LS_COMMAND;
    if (fromEnv !== undefined && fromEnv.length > 0) {
        const parsed = JSON.parse(fromEnv) as string[];
        if (parsed.length === 3 && parsed[1] === '-m' && parsed[2] === 'lsp_server') {
            return parsed[0];
        }
    }
    const venv = path.join(repoRoot, '.venv', 'bin', 'python');
    return existsSync(venv) ? venv : undefined;
}

const interpreter = python();

describe('a workspace cannot stand in for the server', { skip: interpreter === undefined ? 'no Python with lsp_server' : false }, () => {
    it('runs the installed lsp_server, not the workspace folder\'s', () => {
        const workspace = mkdtempSync(path.join(tmpdir(), 'infill-shadow-'));
        try {
            const marker = path.join(workspace, 'ran-the-workspace-code');
            mkdirSync(path.join(workspace, 'lsp_server'));
            const hijack = `open(${JSON.stringify(marker)}, "w").write("x")\nprint("workspace code")\n`;
            writeFileSync(path.join(workspace, 'lsp_server', '__init__.py'), hijack);
            writeFileSync(path.join(workspace, 'lsp_server', '__main__.py'), hijack);
            const candidate: ServerCommand = {
                command: interpreter as string,
                args: ['-m', 'lsp_server'],
                source: 'infill.server.python',
                needsModuleCheck: true,
            };
            const env = { ...process.env, PYTHONPATH: repoRoot };
            // The import check the extension runs first, then the server itself (--version: it exits at once).
            const check = serverExecutable({ command: candidate.command, args: moduleCheckArgs(candidate) }, workspace, env);
            const checked = spawnSync(check.command, check.args, { ...check.options, encoding: 'utf8' });
            assert.equal(checked.status, 0, checked.stderr);
            const server = serverExecutable({ command: candidate.command, args: [...candidate.args, '--version'] }, workspace, env);
            const ran = spawnSync(server.command, server.args, { ...server.options, encoding: 'utf8' });
            assert.equal(ran.status, 0, ran.stderr);
            assert.match(ran.stdout, /^infill-ls \d/);
            assert.equal(existsSync(marker), false, 'the workspace\'s lsp_server ran');
            // And without PYTHONSAFEPATH it would have: the test would catch losing it.
            const unsafe = spawnSync(server.command, server.args, {
                cwd: workspace,
                env: { ...server.options.env, PYTHONSAFEPATH: '' },
                encoding: 'utf8',
            });
            assert.match(unsafe.stdout, /workspace code/);
        } finally {
            rmSync(workspace, { recursive: true, force: true });
        }
    });
});
