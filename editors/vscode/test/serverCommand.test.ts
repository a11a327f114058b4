import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
    commandCandidates,
    describeCommand,
    doctorCommand,
    noServerMessage,
    expandVariables,
    findExecutable,
    moduleCheckArgs,
    serverExecutable,
} from '../src/common/serverCommand';

describe('commandCandidates', () => {
    const everything = {
        configuredCommand: ['/opt/infill/bin/infill-ls', '--stdio'],
        pythonSetting: '/usr/bin/python3',
        pythonExtensionInterpreter: ['/venv/bin/python'],
        executableOnPath: '/usr/local/bin/infill-ls',
    };

    it('uses an explicit command alone, without fallbacks or checks', () => {
        assert.deepEqual(commandCandidates(everything), [
            {
                command: '/opt/infill/bin/infill-ls',
                args: ['--stdio'],
                source: 'infill.server.command',
                needsModuleCheck: false,
            },
        ]);
    });

    it('orders python setting, python extension, then PATH', () => {
        const candidates = commandCandidates({ ...everything, configuredCommand: undefined });
        assert.deepEqual(
            candidates.map((c) => [c.source, c.command, c.args.join(' '), c.needsModuleCheck]),
            [
                ['infill.server.python', '/usr/bin/python3', '-m lsp_server', true],
                ['python-extension', '/venv/bin/python', '-m lsp_server', true],
                ['PATH', '/usr/local/bin/infill-ls', '', false],
            ],
        );
    });

    it('skips an extension interpreter equal to the python setting, and blank entries', () => {
        const candidates = commandCandidates({
            configuredCommand: ['  '],
            pythonSetting: '/venv/bin/python',
            pythonExtensionInterpreter: ['/venv/bin/python'],
        });
        assert.deepEqual(
            candidates.map((c) => c.source),
            ['infill.server.python'],
        );
    });

    it('keeps extra interpreter arguments before -m', () => {
        const [candidate] = commandCandidates({ pythonExtensionInterpreter: ['conda', 'run', '-n', 'x', 'python'] });
        assert.ok(candidate);
        assert.deepEqual(candidate.args, ['run', '-n', 'x', 'python', '-m', 'lsp_server']);
        assert.equal(candidate.command, 'conda');
    });

    it('returns nothing when nothing is known', () => {
        assert.deepEqual(commandCandidates({}), []);
    });

    it('expands variables in the command and the python setting', () => {
        const context = { workspaceFolder: '/ws', home: '/home/me' };
        assert.equal(commandCandidates({ pythonSetting: '${workspaceFolder}/.venv/bin/python' }, context)[0]?.command, '/ws/.venv/bin/python');
        assert.deepEqual(commandCandidates({ configuredCommand: ['~/bin/infill-ls', '${userHome}'] }, context)[0]?.args, [
            '/home/me',
        ]);
    });
});

describe('expandVariables', () => {
    it('expands only a leading tilde', () => {
        assert.equal(expandVariables('~/x', { home: '/h' }), '/h/x');
        assert.equal(expandVariables('a~/x', { home: '/h' }), 'a~/x');
        assert.equal(expandVariables('${workspaceFolder}', {}), '${workspaceFolder}');
    });
});

describe('findExecutable', () => {
    it('returns the first PATH entry that holds the executable', () => {
        const present = new Set(['/b/infill-ls', '/c/infill-ls']);
        const found = findExecutable('infill-ls', {
            pathVariable: '/a::/b:/c',
            platform: 'linux',
            isExecutable: (file) => present.has(file),
        });
        assert.equal(found, '/b/infill-ls');
    });

    it('tries PATHEXT on Windows', () => {
        const found = findExecutable('infill-ls', {
            pathVariable: 'C:\\py\\Scripts;C:\\other',
            platform: 'win32',
            pathExt: '.COM;.EXE',
            isExecutable: (file) => file === 'C:\\py\\Scripts\\infill-ls.EXE',
        });
        assert.equal(found, 'C:\\py\\Scripts\\infill-ls.EXE');
    });

    it('is undefined without PATH or match', () => {
        assert.equal(findExecutable('infill-ls', { pathVariable: undefined, platform: 'linux', isExecutable: () => true }), undefined);
        assert.equal(findExecutable('infill-ls', { pathVariable: '/a', platform: 'linux', isExecutable: () => false }), undefined);
    });
});

describe('moduleCheckArgs and describeCommand', () => {
    it('replaces "-m lsp_server" with an import check', () => {
        const [candidate] = commandCandidates({ pythonExtensionInterpreter: ['py', '-3'] });
        assert.ok(candidate);
        const args = moduleCheckArgs(candidate);
        assert.deepEqual(args.slice(0, 2), ['-3', '-c']);
        assert.match(args[2] ?? '', /find_spec\("lsp_server"\)/);
    });

    it('quotes arguments a shell would split', () => {
        assert.equal(describeCommand({ command: '/a b/python', args: ['-m', "it's"] }), `'/a b/python' -m 'it'\\''s'`);
    });
});

describe('serverExecutable', () => {
    it('passes the argv unchanged and sets no transport (which would append --stdio)', () => {
        const [candidate] = commandCandidates({ pythonSetting: '/venv/bin/python' });
        assert.ok(candidate);
        const executable = serverExecutable(candidate, '/ws', { PATH: '/bin' });
        assert.deepEqual(executable, {
            command: '/venv/bin/python',
            args: ['-m', 'lsp_server'],
            options: { cwd: '/ws', env: { PATH: '/bin', PYTHONUNBUFFERED: '1', PYTHONSAFEPATH: '1' } },
        });
        assert.equal('transport' in executable, false);
    });
});

describe('workspace trust', () => {
    it("skips the Python extension's interpreter in an untrusted workspace (it may be the workspace's .venv)", () => {
        const inputs = {
            pythonSetting: '/usr/bin/python3',
            pythonExtensionInterpreter: ['/ws/.venv/bin/python'],
            executableOnPath: '/usr/local/bin/infill-ls',
        };
        assert.deepEqual(
            commandCandidates({ ...inputs, workspaceTrusted: false }).map((c) => c.source),
            ['infill.server.python', 'PATH'],
        );
        assert.deepEqual(
            commandCandidates({ ...inputs, workspaceTrusted: true }).map((c) => c.source),
            ['infill.server.python', 'python-extension', 'PATH'],
        );
        assert.deepEqual(commandCandidates(inputs).map((c) => c.source), ['infill.server.python', 'python-extension', 'PATH']);
    });

    it('tells an untrusted workspace where the server settings must go', () => {
        assert.doesNotMatch(noServerMessage(), /Restricted Mode/);
        assert.match(noServerMessage(false), /Restricted Mode.*user settings/);
    });
});

describe('doctorCommand', () => {
    it('runs doctor with the settings file after the server argv', () => {
        assert.deepEqual(doctorCommand({ command: '/venv/bin/python', args: ['-m', 'lsp_server'] }, '/tmp/s.json'), {
            command: '/venv/bin/python',
            args: ['-m', 'lsp_server', '--settings', '/tmp/s.json', 'doctor'],
        });
        assert.deepEqual(doctorCommand({ command: 'infill-ls', args: ['--log-file', 'x'] }, 's'), {
            command: 'infill-ls',
            args: ['--log-file', 'x', '--settings', 's', 'doctor'],
        });
        assert.deepEqual(doctorCommand({ command: 'infill-ls', args: [] }, 's', ['/w/.env', '-odd.py']), {
            command: 'infill-ls',
            args: ['--settings', 's', 'doctor', '--', '/w/.env', '-odd.py'],
        });
    });
});
