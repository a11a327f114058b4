/** package.json must declare what the code registers: commands, activation languages, client-only settings. */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { BuiltinInlineCommands, Commands } from '../src/common/commands';
import { documentSelector, LANGUAGE_IDS } from '../src/common/languages';
import { CLIENT_ONLY_GROUPS } from '../src/common/settings';

interface Manifest {
    main: string;
    capabilities: {
        untrustedWorkspaces: { supported: boolean | 'limited'; description?: string; restrictedConfigurations?: string[] };
    };
    activationEvents: string[];
    scripts: Record<string, string>;
    contributes: {
        commands: { command: string; title: string }[];
        keybindings: { command: string; key: string; when?: string }[];
        configuration: { properties: Record<string, { default?: unknown; type?: unknown }> };
    };
}

const packageRoot = path.resolve(__dirname, '..', '..');
const manifest = JSON.parse(readFileSync(path.join(packageRoot, 'package.json'), 'utf8')) as Manifest;

describe('package.json', () => {
    it('contributes exactly the commands the extension registers', () => {
        const contributed = manifest.contributes.commands.map((c) => c.command).sort();
        assert.deepEqual(contributed, Object.values(Commands).sort());
        for (const command of manifest.contributes.commands) {
            assert.ok(command.title.length > 0, `${command.command} has a title`);
        }
    });

    it('activates on every language the client selects', () => {
        const languages = manifest.activationEvents
            .filter((event) => event.startsWith('onLanguage:'))
            .map((event) => event.slice('onLanguage:'.length));
        assert.deepEqual([...languages].sort(), [...LANGUAGE_IDS].sort());
        assert.equal(documentSelector().length, LANGUAGE_IDS.length * 2);
    });

    it('declares the client-only settings, and only in client-only groups besides the generated ones', () => {
        const properties = manifest.contributes.configuration.properties;
        for (const key of ['infill.server.command', 'infill.server.python', 'infill.trace.server']) {
            assert.ok(key in properties, `${key} is contributed`);
        }
        assert.deepEqual(properties['infill.server.command']?.default, []);
        assert.equal(properties['infill.trace.server']?.default, 'off');
        for (const key of Object.keys(properties)) {
            // infill.<group>.<name>, or a top-level server setting such as infill.backend
            assert.match(key, /^infill\.[A-Za-z]\w*(\.[A-Za-z]\w*)?$/, `${key} is infill.<group>.<name> or infill.<name>`);
        }
        assert.deepEqual([...CLIENT_ONLY_GROUPS].sort(), ['server', 'trace']);
    });

    it('binds partial accept to VS Code built-in inline suggestion commands only while one is shown', () => {
        const builtins: string[] = Object.values(BuiltinInlineCommands);
        assert.ok(manifest.contributes.keybindings.length > 0);
        for (const binding of manifest.contributes.keybindings) {
            assert.ok(builtins.includes(binding.command), binding.command);
            assert.match(binding.when ?? '', /inlineSuggestionVisible/);
        }
    });

    it('points main at the bundle, and ships nothing else but the manifest, readme and licence', () => {
        assert.equal(manifest.main, './dist/extension.js');
        assert.ok(readFileSync(path.join(packageRoot, 'src', 'extension.ts'), 'utf8').includes('export async function deactivate'));
        assert.match(manifest.scripts['vscode:prepublish'] ?? '', /esbuild\.mjs --production/);
        assert.match(manifest.scripts.package ?? '', /--no-dependencies/);
        const ignore = readFileSync(path.join(packageRoot, '.vscodeignore'), 'utf8')
            .split('\n')
            .map((line) => line.trim())
            .filter((line) => line.length > 0 && !line.startsWith('#'));
        assert.deepEqual(ignore, ['**', '!dist/extension.js', '!package.json', '!README.md', '!LICENSE']);
    });

    it('supports untrusted workspaces in a limited way, with the settings that choose what runs restricted', () => {
        const trust = manifest.capabilities.untrustedWorkspaces;
        assert.equal(trust.supported, 'limited');
        assert.ok((trust.description ?? '').length > 0);
        const restricted = trust.restrictedConfigurations ?? [];
        const properties = manifest.contributes.configuration.properties;
        for (const key of ['infill.server.command', 'infill.server.python', 'infill.model.path', 'infill.backend', 'infill.remote.url']) {
            assert.ok(restricted.includes(key), `${key} is restricted`);
        }
        for (const key of restricted) {
            assert.ok(key in properties, `${key} is a contributed setting`);
        }
        assert.ok(!restricted.includes('infill.trace.server'), 'tracing is harmless');
    });
});
