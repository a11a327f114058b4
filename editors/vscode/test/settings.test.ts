import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
    completionEnabled,
    configurationAnswers,
    expandDottedKeys,
    readClientSettings,
    toJsonObject,
    toServerSettings,
} from '../src/common/settings';

describe('toServerSettings', () => {
    it('passes every server group through and drops the client-only groups', () => {
        const raw = {
            completion: { enabled: true, maxTokens: 64 },
            model: { path: '' },
            server: { command: ['x'], python: '/usr/bin/python3' },
            trace: { server: 'verbose' },
        };
        assert.deepEqual(toServerSettings(raw), { completion: { enabled: true, maxTokens: 64 }, model: { path: '' } });
    });

    it('drops methods and undefined values the way a configuration proxy carries them', () => {
        const raw = { completion: { enabled: false, skip: undefined }, get: () => 1, has: () => true };
        assert.deepEqual(toServerSettings(raw), { completion: { enabled: false } });
    });

    it('expands dotted keys and merges them with nested groups', () => {
        const raw = { 'completion.enabled': false, completion: { maxTokens: 32 } };
        assert.deepEqual(toServerSettings(raw), { completion: { enabled: false, maxTokens: 32 } });
    });

    it('turns non-objects and cycles into safe JSON', () => {
        assert.deepEqual(toServerSettings(undefined), {});
        assert.deepEqual(toServerSettings([1, 2]), {});
        assert.deepEqual(toServerSettings('junk'), {});
        const cyclic: Record<string, unknown> = { a: 1, n: Number.NaN };
        cyclic.self = cyclic;
        assert.deepEqual(toJsonObject(cyclic), { a: 1 });
    });

    it('does not mutate its input', () => {
        const raw = { server: { python: 'p' }, completion: { enabled: true } };
        toServerSettings(raw);
        assert.deepEqual(raw, { server: { python: 'p' }, completion: { enabled: true } });
    });
});

describe('expandDottedKeys', () => {
    it('ignores empty path segments', () => {
        assert.deepEqual(expandDottedKeys({ '.a..b': 1, '': 2 }), { a: { b: 1 } });
    });
});

describe('completionEnabled', () => {
    it('is on unless explicitly false', () => {
        assert.equal(completionEnabled({}), true);
        assert.equal(completionEnabled({ completion: { enabled: true } }), true);
        assert.equal(completionEnabled({ completion: { enabled: 'no' } }), true);
        assert.equal(completionEnabled({ completion: { enabled: false } }), false);
        assert.equal(completionEnabled({ 'completion.enabled': false }), false);
    });
});

describe('readClientSettings', () => {
    it('reads command, python and trace', () => {
        const settings = readClientSettings({
            server: { command: ['/venv/bin/infill-ls', '--log', 'x'], python: ' /usr/bin/python3 ' },
            trace: { server: 'messages' },
        });
        assert.deepEqual(settings, {
            command: ['/venv/bin/infill-ls', '--log', 'x'],
            python: '/usr/bin/python3',
            trace: 'messages',
        });
    });

    it('treats empty or malformed values as unset', () => {
        assert.deepEqual(readClientSettings({ server: { command: [], python: '  ' }, trace: { server: 'loud' } }), {
            command: undefined,
            python: undefined,
            trace: 'off',
        });
        assert.equal(readClientSettings({ server: { command: ['ok', 3] } }).command, undefined);
        assert.equal(readClientSettings({ server: { command: [''] } }).command, undefined);
        assert.equal(readClientSettings({ server: { command: 'infill-ls' } }).command, undefined);
        assert.equal(readClientSettings(null).trace, 'off');
    });
});

describe('configurationAnswers', () => {
    const settings = { completion: { enabled: false }, model: { path: '/m.gguf' } };

    it('answers the infill section and its sub-sections from the server settings', () => {
        const scopes: (string | undefined)[] = [];
        const answers = configurationAnswers(
            [
                { section: 'infill' },
                { section: 'infill.completion', scopeUri: 'file:///w' },
                { section: 'infill.model.path' },
                { section: 'infill.missing' },
                { section: 'editor' },
                {},
            ],
            (scopeUri) => {
                scopes.push(scopeUri);
                return settings;
            },
            ['vs-infill', 'vs-completion', 'vs-path', 'vs-missing', { tabSize: 4 }, undefined],
        );
        assert.deepEqual(answers, [settings, { enabled: false }, '/m.gguf', null, { tabSize: 4 }, null]);
        assert.deepEqual(scopes, [undefined, 'file:///w', undefined, undefined]);
    });

    it('does not mistake a section that merely starts with "infill" for ours', () => {
        const answers = configurationAnswers([{ section: 'infillOther' }], () => settings, ['theirs']);
        assert.deepEqual(answers, ['theirs']);
    });
});
