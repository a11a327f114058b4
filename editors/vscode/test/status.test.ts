import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
    activeRoute,
    modelName,
    parseRoute,
    parseStatus,
    RESTRICTED_LINE,
    Route,
    routeLabel,
    routeLine,
    sameDocument,
    parseWarnings,
    presentStatus,
    ProgressTracker,
    severityBackground,
    Status,
    statusMessage,
} from '../src/common/status';

describe('parseStatus', () => {
    it('accepts the four server states', () => {
        for (const state of ['loading', 'ready', 'error', 'disabled']) {
            assert.deepEqual(parseStatus({ state, message: 'm', model: 'gemma', warnings: [] }), {
                state,
                message: 'm',
                model: 'gemma',
                warnings: [],
                route: null,
            });
        }
    });

    it('rejects malformed params and defaults missing fields', () => {
        assert.equal(parseStatus(null), undefined);
        assert.equal(parseStatus('ready'), undefined);
        assert.equal(parseStatus({ state: 'starting' }), undefined);
        assert.equal(parseStatus({ state: 3 }), undefined);
        assert.deepEqual(parseStatus({ state: 'ready', message: 5, model: 7 }), {
            state: 'ready',
            message: '',
            model: null,
            warnings: [],
            route: null,
        });
    });

    it('keeps the warnings a ready server reports', () => {
        const warning = 'prefix reuse does not work with llama-cpp-python 0.3.2: every request re-evaluates its whole prompt';
        const status = parseStatus({ state: 'ready', message: 'gemma', model: '/m/gemma.gguf', warnings: [warning, 'second'] });
        assert.deepEqual(status?.warnings, [warning, 'second']);
    });

    it('treats a missing or malformed warnings field as no warnings and drops non-strings', () => {
        assert.deepEqual(parseStatus({ state: 'ready', message: '', model: null })?.warnings, []);
        for (const junk of [null, 'one warning', 3, { 0: 'a' }, true]) {
            assert.deepEqual(parseStatus({ state: 'ready', message: '', model: null, warnings: junk })?.warnings, [], JSON.stringify(junk));
        }
        assert.deepEqual(
            parseStatus({ state: 'ready', message: '', model: null, warnings: ['a', 1, null, { text: 'b' }, ['c'], '  ', ' d '] })?.warnings,
            ['a', 'd'],
        );
        assert.deepEqual(parseWarnings(undefined), []);
    });
});

describe('parseRoute', () => {
    const local: Route = { uri: 'file:///w/.env', target: 'local', reason: 'matches .env*', text: 'local only: matches .env*' };

    it("keeps the active document's route from infill/status", () => {
        const status = parseStatus({ state: 'ready', message: '', model: null, warnings: [], route: local });
        assert.deepEqual(status?.route, local);
        for (const target of ['local', 'remote', 'none'] as const) {
            assert.equal(parseRoute({ ...local, target })?.target, target);
        }
    });

    it('is null when absent, null or malformed, and defaults the texts', () => {
        assert.equal(parseStatus({ state: 'ready', message: '', model: null, warnings: [] })?.route, null);
        assert.equal(parseStatus({ state: 'ready', message: '', model: null, warnings: [], route: null })?.route, null);
        for (const junk of ['local', 3, [], { target: 'local' }, { uri: '', target: 'local' }, { uri: 'file:///a', target: 'cloud' }, { uri: 7, target: 'remote' }]) {
            assert.equal(parseRoute(junk), null, JSON.stringify(junk));
        }
        assert.deepEqual(parseRoute({ uri: 'file:///a', target: 'remote', reason: 3, text: ' remote: qwen via openai ' }), {
            uri: 'file:///a',
            target: 'remote',
            reason: '',
            text: 'remote: qwen via openai',
        });
    });
});

describe('activeRoute and sameDocument', () => {
    const route: Route = { uri: 'file:///w/my file.py', target: 'remote', reason: '', text: 'remote: qwen via openai' };
    const status: Status = { state: 'ready', message: '', model: null, warnings: [], route };

    it("shows a route only while it is the active editor's document", () => {
        assert.deepEqual(activeRoute(status, 'file:///w/my%20file.py'), route, 'VS Code percent-encodes, the server may not');
        assert.equal(activeRoute(status, 'file:///w/other.py'), null);
        assert.equal(activeRoute(status, undefined), null);
        assert.equal(activeRoute({ ...status, route: null }, 'file:///w/my%20file.py'), null);
    });

    it('compares URIs decoded, and tolerates malformed escapes', () => {
        assert.ok(sameDocument('file:///c%3A/x.py', 'file:///c:/x.py'));
        assert.ok(!sameDocument('file:///a%ZZ.py', 'file:///b.py'));
        assert.ok(sameDocument('file:///a%ZZ.py', 'file:///a%ZZ.py'));
    });

    it('names local, local only, remote and none', () => {
        assert.equal(routeLabel({ ...route, target: 'local' }), 'local');
        assert.equal(routeLabel({ ...route, target: 'local', reason: 'matches .env*' }), 'local only');
        assert.equal(routeLabel(route), 'remote');
        assert.equal(routeLabel({ ...route, target: 'none' }), 'none');
        assert.equal(routeLine({ ...route, target: 'local', reason: 'matches .env*', text: 'local only: matches .env*' }), 'This file: local only: matches .env*');
        assert.equal(routeLine({ ...route, target: 'local', reason: 'secret detected at line 3', text: 'kept here' }), 'This file: kept here (secret detected at line 3)');
        assert.equal(routeLine({ ...route, target: 'none', text: '' }), 'This file: none');
    });
});

describe('ProgressTracker', () => {
    it('follows begin, report and end per token', () => {
        const tracker = new ProgressTracker();
        assert.equal(tracker.update('t', { kind: 'begin', title: 'Loading model', percentage: 0 }), true);
        assert.deepEqual(tracker.current(), { title: 'Loading model', message: undefined, percentage: 0 });
        assert.equal(tracker.update('t', { kind: 'report', message: 'weights', percentage: 42.4 }), true);
        assert.deepEqual(tracker.current(), { title: 'Loading model', message: 'weights', percentage: 42 });
        assert.equal(tracker.update('t', { kind: 'report' }), true);
        assert.deepEqual(tracker.current(), { title: 'Loading model', message: 'weights', percentage: 42 });
        assert.equal(tracker.update('t', { kind: 'end' }), true);
        assert.equal(tracker.current(), undefined);
    });

    it('shows the newest of several progresses and clamps percentages', () => {
        const tracker = new ProgressTracker();
        tracker.update(1, { kind: 'begin', title: 'A' });
        tracker.update('two', { kind: 'begin', title: 'B', percentage: 250 });
        assert.equal(tracker.current()?.title, 'B');
        assert.equal(tracker.current()?.percentage, 100);
        tracker.update('two', { kind: 'end' });
        assert.equal(tracker.current()?.title, 'A');
    });

    it('ignores reports for unknown tokens and junk values', () => {
        const tracker = new ProgressTracker();
        assert.equal(tracker.update('x', { kind: 'report', percentage: 5 }), false);
        assert.equal(tracker.update('x', null), false);
        assert.equal(tracker.update('x', { kind: 'unknown' }), false);
        assert.equal(tracker.update('x', { kind: 'end' }), false);
        assert.equal(tracker.current(), undefined);
    });
});

describe('statusMessage', () => {
    it('drops the infill-ls prefix and the final period', () => {
        const status: Status = { state: 'error', message: 'infill-ls: model unavailable: not found. ', model: null, warnings: [] };
        assert.equal(statusMessage(status), 'model unavailable: not found');
        assert.equal(statusMessage({ ...status, message: '' }), '');
    });

    it("drops the server's warning summary only when the warnings are listed on their own", () => {
        const status: Status = {
            state: 'ready',
            message: 'gemma-3-270m (gemma3, 253 MB) - warning: prefix reuse does not work; slow',
            model: null,
            warnings: ['prefix reuse does not work', 'slow'],
        };
        assert.equal(statusMessage(status), 'gemma-3-270m (gemma3, 253 MB)');
        assert.equal(statusMessage({ ...status, warnings: [] }), status.message);
    });
});

describe('modelName', () => {
    it('keeps the file name of a model path', () => {
        assert.equal(modelName('/root/.cache/infill-ls/models/gemma.gguf'), 'gemma.gguf');
        assert.equal(modelName('C:\\models\\qwen.gguf'), 'qwen.gguf');
        assert.equal(modelName('plain'), 'plain');
        assert.equal(modelName('/dir/'), '/dir/');
    });
});

describe('presentStatus', () => {
    const ready: Status = { state: 'ready', message: '', model: 'gemma3-270m', warnings: [] };
    const reuse = 'prefix reuse does not work with llama-cpp-python 0.3.2: every request re-evaluates its whole prompt';
    const warned: Status = {
        state: 'ready',
        message: `gemma-3-270m (gemma3, 253 MB) - warning: ${reuse}`,
        model: '/cache/gemma3-270m.gguf',
        warnings: [reuse],
    };

    it('shows ready with the model name', () => {
        const view = presentStatus(ready, undefined, true);
        assert.equal(view.text, '$(check) infill');
        assert.match(view.tooltip, /ready \(gemma3-270m\)/);
        assert.equal(view.severity, 'normal');
        assert.doesNotMatch(view.tooltip, /warning/i);
    });

    it('marks ready with warnings and lists each warning in the tooltip', () => {
        const view = presentStatus(warned, undefined, true);
        assert.equal(view.text, '$(warning) infill');
        assert.equal(view.severity, 'warning');
        assert.equal(
            view.tooltip,
            `infill-ls ready with warnings (gemma3-270m.gguf): gemma-3-270m (gemma3, 253 MB).\n\nWarning:\n\u2022 ${reuse}\n\nClick for actions.`,
        );
        const two = presentStatus({ ...warned, warnings: [reuse, 'second finding'] }, undefined, true);
        assert.match(two.tooltip, /2 warnings:\n\u2022 prefix reuse does not work[^\n]*\n\u2022 second finding\n/);
        assert.equal(two.tooltip.split(reuse).length, 2, 'each warning once, not again in the message');
    });

    it('gives warnings the warning background and errors the error background', () => {
        assert.equal(severityBackground(presentStatus(warned, undefined, true).severity), 'statusBarItem.warningBackground');
        assert.equal(severityBackground(presentStatus(ready, undefined, true).severity), undefined);
        assert.equal(severityBackground('error'), 'statusBarItem.errorBackground');
    });

    it('drops the warning marker once a later status has no warnings', () => {
        const view = presentStatus({ ...warned, message: 'gemma-3-270m (gemma3, 253 MB)', warnings: [] }, undefined, true);
        assert.equal(view.text, '$(check) infill');
        assert.equal(view.severity, 'normal');
    });

    it('keeps errors, loading and disabled ahead of the warning marker but still lists warnings', () => {
        const disabled = presentStatus(warned, undefined, false);
        assert.equal(disabled.text, '$(circle-slash) infill');
        assert.match(disabled.tooltip, /Warning:\n\u2022 prefix reuse/);
        assert.match(disabled.tooltip, /Click to enable or restart\.$/);
        const loading = presentStatus({ ...warned, state: 'loading' }, undefined, true);
        assert.equal(loading.text, '$(loading~spin) infill');
        assert.match(loading.tooltip, /Warning:\n\u2022 prefix reuse/);
        const error = presentStatus({ ...warned, state: 'error' }, undefined, true);
        assert.equal(error.severity, 'error');
        assert.equal(error.text, '$(error) infill');
    });

    it('shows why the model worker restarts', () => {
        const crash =
            'llama.cpp crashed in its CPU backend (signal 11, SIGSEGV) during a generation; restarting the model worker';
        const view = presentStatus({ state: 'loading', message: crash, model: '/cache/gemma.gguf', warnings: [] }, undefined, true);
        assert.equal(view.text, '$(loading~spin) infill');
        assert.equal(view.tooltip, `Loading model (gemma.gguf): ${crash}`);
        const first = presentStatus({ state: 'loading', message: 'loading model', model: null, warnings: [] }, undefined, true);
        assert.equal(first.tooltip, 'Loading model', 'the first load says it once');
        const withProgress = presentStatus(
            { state: 'loading', message: 'loading model', model: null, warnings: [] },
            { title: 'infill-ls: loading model', message: 'loading gemma.gguf', percentage: 30 },
            true,
        );
        assert.equal(withProgress.tooltip, 'infill-ls: loading model 30% — loading gemma.gguf');
        const gaveUp = presentStatus(
            { state: 'error', message: `infill-ls: model unavailable: ${crash}`, model: null, warnings: [] },
            undefined,
            true,
        );
        assert.equal(gaveUp.severity, 'error');
        assert.match(gaveUp.tooltip, /SIGSEGV/);
    });

    it('shows loading with the percentage', () => {
        const view = presentStatus(
            { state: 'loading', message: '', model: null, warnings: [] },
            { title: 'Loading model', message: undefined, percentage: 37 },
            true,
        );
        assert.equal(view.text, '$(loading~spin) infill 37%');
        assert.match(view.tooltip, /Loading model 37%/);
    });

    it('shows loading without a percentage before progress starts', () => {
        assert.equal(presentStatus({ state: 'loading', message: '', model: null, warnings: [] }, undefined, true).text, '$(loading~spin) infill');
        assert.match(presentStatus({ state: 'starting', message: '', model: null, warnings: [] }, undefined, true).tooltip, /Starting/);
    });

    it('marks errors and a stopped server, whatever the enabled setting', () => {
        const error = presentStatus({ state: 'error', message: 'no model file', model: null, warnings: [] }, undefined, false);
        assert.equal(error.severity, 'error');
        assert.match(error.tooltip, /no model file/);
        const sentence = presentStatus({ state: 'error', message: 'Model missing. ', model: null, warnings: [] }, undefined, true);
        assert.equal(sentence.tooltip, 'infill-ls error: Model missing. Click for details.');
        assert.equal(presentStatus({ state: 'stopped', message: '', model: null, warnings: [] }, undefined, true).severity, 'warning');
    });

    it("marks the active file's route after the label and explains it in the tooltip", () => {
        const uri = 'file:///w/app.py';
        const remote: Route = { uri, target: 'remote', reason: '', text: 'remote: qwen2.5-coder via openai, local fallback' };
        const view = presentStatus({ ...ready, route: remote }, undefined, true, { activeUri: uri });
        assert.equal(view.text, '$(check) infill $(cloud)');
        assert.equal(view.tooltip, 'infill-ls ready (gemma3-270m).\nThis file: remote: qwen2.5-coder via openai, local fallback\n\nClick for actions.');
        const kept: Route = { uri, target: 'local', reason: 'matches .env*', text: 'local only: matches .env*' };
        assert.equal(presentStatus({ ...ready, route: kept }, undefined, true, { activeUri: uri }).text, '$(check) infill $(lock)');
        const none: Route = { uri, target: 'none', reason: 'matches .env*', text: 'local only: matches .env*; no local model, no suggestions' };
        const noModel = presentStatus({ ...ready, route: none }, undefined, true, { activeUri: uri });
        assert.equal(noModel.text, '$(check) infill $(circle-slash)');
        assert.match(noModel.tooltip, /This file: local only: matches \.env\*; no local model, no suggestions/);
        const plain: Route = { uri, target: 'local', reason: '', text: 'local model' };
        const local = presentStatus({ ...ready, route: plain }, undefined, true, { activeUri: uri });
        assert.equal(local.text, '$(check) infill', 'everything is local: no icon');
        assert.match(local.tooltip, /\nThis file: local model\n/);
        const withWarnings = presentStatus({ ...warned, route: remote }, undefined, true, { activeUri: uri });
        assert.equal(withWarnings.text, '$(warning) infill $(cloud)');
        assert.match(withWarnings.tooltip, /\.\nThis file: remote: [^\n]+\n\nWarning:\n\u2022 prefix reuse/);
    });

    it('hides a route that is about another document, and shows none while loading or disabled', () => {
        const route: Route = { uri: 'file:///w/a.py', target: 'remote', reason: '', text: 'remote: x' };
        const other = presentStatus({ ...ready, route }, undefined, true, { activeUri: 'file:///w/b.py' });
        assert.equal(other.text, '$(check) infill');
        assert.doesNotMatch(other.tooltip, /This file/);
        const loading = presentStatus({ ...ready, state: 'loading', route }, undefined, true, { activeUri: 'file:///w/a.py' });
        assert.equal(loading.text, '$(loading~spin) infill');
        assert.match(loading.tooltip, /\nThis file: remote: x/);
        assert.equal(presentStatus({ ...ready, route }, undefined, false, { activeUri: 'file:///w/a.py' }).text, '$(circle-slash) infill');
    });

    it('says when the workspace is in Restricted Mode', () => {
        const view = presentStatus(ready, undefined, true, { restricted: true });
        assert.equal(view.tooltip, `infill-ls ready (gemma3-270m).\n${RESTRICTED_LINE}\n\nClick for actions.`);
        const stopped = presentStatus({ state: 'stopped', message: '', model: null, warnings: [] }, undefined, true, { restricted: true });
        assert.match(stopped.tooltip, /Restricted Mode/);
        assert.doesNotMatch(presentStatus(ready, undefined, true, { restricted: false }).tooltip, /Restricted/);
    });

    it('shows disabled from the server or from the client setting', () => {
        assert.equal(presentStatus({ state: 'disabled', message: '', model: null, warnings: [] }, undefined, true).text, '$(circle-slash) infill');
        assert.equal(presentStatus(ready, undefined, false).text, '$(circle-slash) infill');
    });
});
