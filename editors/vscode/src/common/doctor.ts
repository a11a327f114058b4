/**
 * Reading what `infill-ls doctor` prints: its report ends with `problems: none`, or with `problems:` and one
 * `  - ...` line per problem (and exit status 1). Pure logic.
 */

export interface DoctorReport {
    /** The problems listed, in order; empty when there are none. */
    readonly problems: readonly string[];
    /** Whether the report reached its end (`problems: ...`); false when doctor died or was stopped early. */
    readonly complete: boolean;
}

export function parseDoctorReport(output: string): DoctorReport {
    const lines = output.split(/\r?\n/);
    const start = lines.findIndex((line) => /^problems:/.test(line));
    if (start === -1) {
        return { problems: [], complete: false };
    }
    if ((lines[start] ?? '').trim() === 'problems: none') {
        return { problems: [], complete: true };
    }
    const problems: string[] = [];
    for (const line of lines.slice(start + 1)) {
        const match = /^\s+- (.*)$/.exec(line);
        if (match === null) {
            break;
        }
        problems.push((match[1] ?? '').trim());
    }
    return { problems, complete: true };
}

/** One line for a notification after doctor ran. */
export function doctorSummary(report: DoctorReport, exitCode: number | null, signal: string | null): string {
    if (!report.complete) {
        const how = signal !== null ? `was stopped (${signal})` : `exited with status ${String(exitCode)}`;
        return `infill-ls doctor ${how} before the end of its report; its output has the details.`;
    }
    if (report.problems.length === 0) {
        return 'infill-ls doctor: no problems.';
    }
    const count = report.problems.length === 1 ? '1 problem' : `${report.problems.length} problems`;
    return `infill-ls doctor found ${count}: ${report.problems.join('; ')}`;
}
