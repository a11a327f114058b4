/**
 * The model's state as the status bar shows it, built from the server's `infill/status` notification,
 * `$/progress` work-done reports and the client's own view of the connection. Pure logic.
 */

export const STATUS_NOTIFICATION = 'infill/status';

/** States the server reports in `infill/status`. */
export type ServerState = 'loading' | 'ready' | 'error' | 'disabled';
/** States only the client knows: the process is being started, or is not running. */
export type ClientState = 'starting' | 'stopped';
export type DisplayState = ServerState | ClientState;

const SERVER_STATES: readonly string[] = ['loading', 'ready', 'error', 'disabled'];

/** Where the active document's content goes: only the local model, the remote one, or no model at all. */
export type RouteTarget = 'local' | 'remote' | 'none';

const ROUTE_TARGETS: readonly string[] = ['local', 'remote', 'none'];

/** The `route` field of `infill/status`: the document the server takes as active (the last didFocus). */
export interface Route {
    readonly uri: string;
    readonly target: RouteTarget;
    /** Why it stays local ("matches .env*"); empty when nothing keeps it local. */
    readonly reason: string;
    /** One line for people, e.g. "local only: matches .env*" or "remote: qwen2.5-coder via openai". */
    readonly text: string;
}

export interface Status {
    readonly state: DisplayState;
    readonly message: string;
    readonly model: string | null;
    /**
     * Findings of the server's model self-check (e.g. prefix reuse not working with this llama-cpp-python):
     * the model works, but worse than it should. Reported while the state stays "ready".
     */
    readonly warnings: readonly string[];
    /** The active document's route; null when the server sent none (or an older server). */
    readonly route?: Route | null;
}

/** The `route` field: null unless it is an object with a URI, a known target and string texts. */
export function parseRoute(value: unknown): Route | null {
    if (typeof value !== 'object' || value === null || Array.isArray(value)) {
        return null;
    }
    const record = value as Record<string, unknown>;
    const { uri, target } = record;
    if (typeof uri !== 'string' || uri.length === 0 || typeof target !== 'string' || !ROUTE_TARGETS.includes(target)) {
        return null;
    }
    const reason = typeof record.reason === 'string' ? record.reason.trim() : '';
    const text = typeof record.text === 'string' ? record.text.trim() : '';
    return { uri, target: target as RouteTarget, reason, text };
}

function decodedUri(uri: string): string {
    try {
        return decodeURIComponent(uri);
    } catch {
        return uri;
    }
}

/**
 * Whether two document URIs name the same document. The server may echo a URI unquoted (as pygls stores
 * it) where VS Code percent-encodes (`%20`, `%3A` in a drive letter), so both are compared decoded.
 */
export function sameDocument(a: string, b: string): boolean {
    return a === b || decodedUri(a) === decodedUri(b);
}

/** The route when it is the active document's; a route for another document is stale (focus moved on). */
export function activeRoute(status: Status, activeUri: string | undefined): Route | null {
    const route = status.route ?? null;
    if (route === null || activeUri === undefined || !sameDocument(route.uri, activeUri)) {
        return null;
    }
    return route;
}

/** A short name of the route: "local", "local only" (kept local by the privacy settings), "remote", "none". */
export function routeLabel(route: Route): string {
    if (route.target === 'local') {
        return route.reason.length > 0 ? 'local only' : 'local';
    }
    return route.target;
}

/** The tooltip line about the active file, e.g. "This file: local only: matches .env*". */
export function routeLine(route: Route): string {
    const text = route.text.length > 0 ? route.text : routeLabel(route);
    const reason = route.reason.length > 0 && !text.includes(route.reason) ? ` (${route.reason})` : '';
    return `This file: ${text}${reason}`;
}

/** The codicon after "infill" in the status bar: remote, kept local, or no model for this file. */
export function routeIcon(route: Route | null): string {
    if (route === null) {
        return '';
    }
    if (route.target === 'remote') {
        return ' $(cloud)';
    }
    if (route.target === 'none') {
        return ' $(circle-slash)';
    }
    return route.reason.length > 0 ? ' $(lock)' : '';
}

/** The `warnings` field: a list of non-empty strings; a missing or malformed field is no warnings. */
export function parseWarnings(value: unknown): readonly string[] {
    if (!Array.isArray(value)) {
        return [];
    }
    return value
        .filter((item): item is string => typeof item === 'string')
        .map((item) => item.trim())
        .filter((item) => item.length > 0);
}

/**
 * Validates the params of an `infill/status` notification. Malformed params give undefined (and the
 * status bar keeps what it had) rather than an exception inside the client's notification handler.
 */
export function parseStatus(params: unknown): Status | undefined {
    if (typeof params !== 'object' || params === null) {
        return undefined;
    }
    const record = params as Record<string, unknown>;
    const state = record.state;
    if (typeof state !== 'string' || !SERVER_STATES.includes(state)) {
        return undefined;
    }
    const message = typeof record.message === 'string' ? record.message : '';
    const model = typeof record.model === 'string' ? record.model : null;
    return {
        state: state as ServerState,
        message,
        model,
        warnings: parseWarnings(record.warnings),
        route: parseRoute(record.route),
    };
}

export interface ProgressSnapshot {
    readonly title: string;
    readonly message: string | undefined;
    /** 0..100, or undefined when the server reports no percentage. */
    readonly percentage: number | undefined;
}

function clampPercentage(value: unknown): number | undefined {
    if (typeof value !== 'number' || !Number.isFinite(value)) {
        return undefined;
    }
    return Math.min(100, Math.max(0, Math.round(value)));
}

/**
 * Follows every work-done progress the server runs (`begin` / `report` / `end` per token) and exposes the
 * most recently started one that is still running.
 */
export class ProgressTracker {
    private readonly active = new Map<string, ProgressSnapshot>();

    /** Applies one `$/progress` value; returns whether anything changed. */
    update(token: string | number, value: unknown): boolean {
        if (typeof value !== 'object' || value === null) {
            return false;
        }
        const key = String(token);
        const record = value as Record<string, unknown>;
        const message = typeof record.message === 'string' ? record.message : undefined;
        switch (record.kind) {
            case 'begin': {
                const title = typeof record.title === 'string' ? record.title : '';
                this.active.delete(key);
                this.active.set(key, { title, message, percentage: clampPercentage(record.percentage) });
                return true;
            }
            case 'report': {
                const previous = this.active.get(key);
                if (previous === undefined) {
                    return false;
                }
                this.active.set(key, {
                    title: previous.title,
                    message: message ?? previous.message,
                    percentage: clampPercentage(record.percentage) ?? previous.percentage,
                });
                return true;
            }
            case 'end':
                return this.active.delete(key);
            default:
                return false;
        }
    }

    /** The newest running progress, if any. */
    current(): ProgressSnapshot | undefined {
        let last: ProgressSnapshot | undefined;
        for (const snapshot of this.active.values()) {
            last = snapshot;
        }
        return last;
    }

    clear(): void {
        this.active.clear();
    }
}

export type StatusSeverity = 'normal' | 'warning' | 'error';

export interface StatusView {
    /** Status bar text, with codicons. */
    readonly text: string;
    readonly tooltip: string;
    readonly severity: StatusSeverity;
}

const LABEL = 'infill';

/** The theme colour of the status bar item's background for a severity; none for normal. */
export function severityBackground(severity: StatusSeverity): string | undefined {
    switch (severity) {
        case 'error':
            return 'statusBarItem.errorBackground';
        case 'warning':
            return 'statusBarItem.warningBackground';
        default:
            return undefined;
    }
}

/**
 * The status message without the "infill-ls:" prefix servers add and without its final period. With
 * warnings, also without the " - warning: ..." summary the server appends to its ready message: the
 * warnings are listed on their own.
 */
export function statusMessage(status: Status): string {
    let message = status.message.trim().replace(/^infill-ls:\s*/i, '');
    if (status.warnings.length > 0) {
        message = message.replace(/\s+[-\u2013\u2014]\s+warnings?:[\s\S]*$/i, '');
    }
    return message.replace(/[.\s]+$/, '');
}

/** The warnings as tooltip lines, after a blank line; empty without warnings. */
export function warningLines(warnings: readonly string[]): string {
    if (warnings.length === 0) {
        return '';
    }
    const heading = warnings.length === 1 ? 'Warning:' : `${warnings.length} warnings:`;
    return `\n\n${heading}\n${warnings.map((warning) => `\u2022 ${warning}`).join('\n')}`;
}

/** The server reports the model as a path; the file name is what fits in a tooltip. */
export function modelName(model: string): string {
    const name = model.split(/[\\/]/).pop() ?? model;
    return name.length > 0 ? name : model;
}

/** What the status bar knows besides the server's status. */
export interface StatusContext {
    /** The URI of the active editor's document (as VS Code writes it), if there is one. */
    readonly activeUri?: string | undefined;
    /** VS Code's Restricted Mode: the workspace is not trusted. */
    readonly restricted?: boolean | undefined;
}

export const RESTRICTED_LINE =
    "Restricted Mode: this workspace's own settings for the server command, the model file and where code is " +
    'sent are ignored; user settings apply.';

/**
 * The status bar's presentation. `completionEnabled` is the client setting, so "disabled" shows at once
 * after the user disables completions even before the server confirms it. The active file's route shows
 * as an icon after the label (a cloud: the remote model may see it; a lock: kept local, with the reason in
 * the tooltip; a crossed circle: no model completes it) and as a tooltip line.
 */
export function presentStatus(
    status: Status,
    progress: ProgressSnapshot | undefined,
    completionEnabled: boolean,
    context: StatusContext = {},
): StatusView {
    const model = status.model !== null && status.model.length > 0 ? ` (${modelName(status.model)})` : '';
    const message = statusMessage(status);
    const detail = message.length > 0 ? `: ${message}` : '';
    const route = activeRoute(status, context.activeUri);
    const restricted = context.restricted === true ? `\n${RESTRICTED_LINE}` : '';
    // Tooltip lines after the summary: the active file's route, Restricted Mode, then the warnings.
    const extra = `${route !== null ? `\n${routeLine(route)}` : ''}${restricted}${warningLines(status.warnings)}`;
    if (status.state === 'error') {
        return {
            text: `$(error) ${LABEL}`,
            tooltip: clickLine(`infill-ls error${detail}${model}.`, extra, 'Click for details.'),
            severity: 'error',
        };
    }
    if (status.state === 'stopped') {
        return {
            text: `$(debug-disconnect) ${LABEL}`,
            tooltip: clickLine(`infill-ls is not running${detail}.`, restricted, 'Click for details.'),
            severity: 'warning',
        };
    }
    if (!completionEnabled || status.state === 'disabled') {
        return {
            text: `$(circle-slash) ${LABEL}`,
            tooltip: clickLine(`infill completions are disabled${detail}${model}.`, extra, 'Click to enable or restart.'),
            severity: 'normal',
        };
    }
    if (status.state === 'loading' || status.state === 'starting' || progress !== undefined) {
        const percentage = progress?.percentage !== undefined ? ` ${progress.percentage}%` : '';
        const what = progress?.title !== undefined && progress.title.length > 0 ? progress.title : 'Loading model';
        const progressDetail = progress?.message !== undefined ? ` — ${progress.message}` : '';
        const verb = status.state === 'starting' ? 'Starting infill-ls' : what;
        // A worker crash and restart arrives as "loading" with the reason, and no $/progress: show it.
        const reason = loadingReason(message, verb, progress);
        return {
            text: `$(loading~spin) ${LABEL}${percentage}`,
            tooltip: `${verb}${percentage}${progressDetail}${model}${reason}${extra}`,
            severity: 'normal',
        };
    }
    if (status.warnings.length > 0) {
        return {
            text: `$(warning) ${LABEL}${routeIcon(route)}`,
            tooltip: clickLine(`infill-ls ready with warnings${model}${detail}.`, extra, 'Click for actions.'),
            severity: 'warning',
        };
    }
    return {
        text: `$(check) ${LABEL}${routeIcon(route)}`,
        tooltip: clickLine(`infill-ls ready${model}${detail}.`, extra, 'Click for actions.'),
        severity: 'normal',
    };
}

/** The summary, the extra lines (if any: route, Restricted Mode, warnings) and the click hint. */
function clickLine(summary: string, extra: string, hint: string): string {
    return extra.length > 0 ? `${summary}${extra}\n\n${hint}` : `${summary} ${hint}`;
}

/** Generic load messages ("loading model", "starting") repeat what the tooltip already says. */
const GENERIC_LOADING = /^(loading( the)? model|starting( infill-ls)?|loading)$/i;

function loadingReason(message: string, verb: string, progress: ProgressSnapshot | undefined): string {
    if (message.length === 0 || GENERIC_LOADING.test(message)) {
        return '';
    }
    const known = [verb, progress?.message ?? ''].map((text) => text.toLowerCase());
    if (known.some((text) => text.includes(message.toLowerCase()))) {
        return '';
    }
    return `: ${message}`;
}
