import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { modelName, parseStatus, presentStatus, ProgressTracker, Status, statusMessage } from '../src/common/status';

describe('parseStatus', () => {
    it('accepts the four server states', () => {
        for (const state of ['loading', 'ready', 'error', 'disabled']) {
            assert.deepEqual(parseStatus({ state, message: 'm', model: 'gemma' }), { state, message: 'm', model: 'gemma' });
        }
    });

    it('rejects malformed params and defaults missing fields', () => {
        assert.equal(parseStatus(null), undefined);
        assert.equal(parseStatus('ready'), undefined);
        assert.equal(parseStatus({ state: 'starting' }), undefined);
        assert.equal(parseStatus({ state: 3 }), undefined);
        assert.deepEqual(parseStatus({ state: 'ready', message: 5, model: 7 }), { state: 'ready', message: '', model: null });
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
        const status: Status = { state: 'error', message: 'infill-ls: model unavailable: not found. ', model: null };
        assert.equal(statusMessage(status), 'model unavailable: not found');
        assert.equal(statusMessage({ ...status, message: '' }), '');
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
    const ready: Status = { state: 'ready', message: '', model: 'gemma3-270m' };

    it('shows ready with the model name', () => {
        const view = presentStatus(ready, undefined, true);
        assert.equal(view.text, '$(check) infill');
        assert.match(view.tooltip, /ready \(gemma3-270m\)/);
        assert.equal(view.severity, 'normal');
    });

    it('shows loading with the percentage', () => {
        const view = presentStatus(
            { state: 'loading', message: '', model: null },
            { title: 'Loading model', message: undefined, percentage: 37 },
            true,
        );
        assert.equal(view.text, '$(loading~spin) infill 37%');
        assert.match(view.tooltip, /Loading model 37%/);
    });

    it('shows loading without a percentage before progress starts', () => {
        assert.equal(presentStatus({ state: 'loading', message: '', model: null }, undefined, true).text, '$(loading~spin) infill');
        assert.match(presentStatus({ state: 'starting', message: '', model: null }, undefined, true).tooltip, /Starting/);
    });

    it('marks errors and a stopped server, whatever the enabled setting', () => {
        const error = presentStatus({ state: 'error', message: 'no model file', model: null }, undefined, false);
        assert.equal(error.severity, 'error');
        assert.match(error.tooltip, /no model file/);
        const sentence = presentStatus({ state: 'error', message: 'Model missing. ', model: null }, undefined, true);
        assert.equal(sentence.tooltip, 'infill-ls error: Model missing. Click for details.');
        assert.equal(presentStatus({ state: 'stopped', message: '', model: null }, undefined, true).severity, 'warning');
    });

    it('shows disabled from the server or from the client setting', () => {
        assert.equal(presentStatus({ state: 'disabled', message: '', model: null }, undefined, true).text, '$(circle-slash) infill');
        assert.equal(presentStatus(ready, undefined, false).text, '$(circle-slash) infill');
    });
});
