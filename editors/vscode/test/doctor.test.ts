import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { doctorSummary, parseDoctorReport } from '../src/common/doctor';

const HEAD = 'infill-ls 0.1.0 on Python 3.11.7, 2 CPU(s)\nllama-cpp-python: 0.3.36\ngrammars:\n  python      ok  .py\n';

describe('parseDoctorReport', () => {
    it('reads "problems: none" as a complete report without problems', () => {
        const report = parseDoctorReport(`${HEAD}languages: 10 supported\nproblems: none\n`);
        assert.deepEqual(report, { problems: [], complete: true });
        assert.equal(doctorSummary(report, 0, null), 'infill-ls doctor: no problems.');
    });

    it('lists each problem', () => {
        const output = `${HEAD}problems:\n  - model: file not found: /m.gguf\n  - grammar lua: not installed\r\n`;
        const report = parseDoctorReport(output);
        assert.deepEqual(report.problems, ['model: file not found: /m.gguf', 'grammar lua: not installed']);
        assert.equal(report.complete, true);
        assert.equal(
            doctorSummary(report, 1, null),
            'infill-ls doctor found 2 problems: model: file not found: /m.gguf; grammar lua: not installed',
        );
        assert.match(doctorSummary(parseDoctorReport('problems:\n  - one\n'), 1, null), /found 1 problem: one$/);
    });

    it('knows a report that ended early', () => {
        const report = parseDoctorReport(HEAD);
        assert.deepEqual(report, { problems: [], complete: false });
        assert.match(doctorSummary(report, null, 'SIGTERM'), /stopped \(SIGTERM\) before the end/);
        assert.match(doctorSummary(report, 2, null), /exited with status 2 before the end/);
    });
});
