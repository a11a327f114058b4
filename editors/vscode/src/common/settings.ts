/**
 * Conversion between VS Code's `infill` configuration and what the server receives.
 *
 * The server's keys (`infill.<group>.<name>`) are generated from the Python dataclasses by
 * `python -m lsp_server.settings --sync`; this module does not know them and passes every group through.
 * Only the client-only groups below are held back, because they describe how to start the server, not how
 * it should behave.
 */

export type JsonValue = null | boolean | number | string | JsonValue[] | JsonObject;
export interface JsonObject {
    [key: string]: JsonValue;
}

/** The configuration section that holds every infill setting. */
export const SECTION = 'infill';

/** Groups under `infill.` that only the client reads (contributed by this package.json by hand). */
export const CLIENT_ONLY_GROUPS: readonly string[] = ['server', 'trace'];

/** The settings key that `infill.enable` / `infill.disable` flip. */
export const COMPLETION_ENABLED_KEY = 'completion.enabled';

export type TraceLevel = 'off' | 'messages' | 'verbose';

/** Settings the client itself uses to start and trace the server. */
export interface ClientSettings {
    /** `infill.server.command`: full argv of the server, or undefined when not set (empty list = not set). */
    readonly command: string[] | undefined;
    /** `infill.server.python`: interpreter that runs `-m lsp_server`, or undefined when not set. */
    readonly python: string | undefined;
    /** `infill.trace.server`: protocol tracing into the output channel. */
    readonly trace: TraceLevel;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
    if (typeof value !== 'object' || value === null || Array.isArray(value)) {
        return false;
    }
    const proto: unknown = Object.getPrototypeOf(value);
    return proto === Object.prototype || proto === null;
}

/**
 * Deep-copies `value` as JSON data, dropping what JSON cannot carry (functions, undefined, NaN, cycles),
 * so that a VS Code configuration proxy turns into something safe to send over the wire.
 */
export function toJsonValue(value: unknown, seen: Set<object> = new Set()): JsonValue | undefined {
    if (value === null || typeof value === 'boolean' || typeof value === 'string') {
        return value;
    }
    if (typeof value === 'number') {
        return Number.isFinite(value) ? value : undefined;
    }
    if (typeof value !== 'object' || seen.has(value)) {
        return undefined;
    }
    seen.add(value);
    try {
        if (Array.isArray(value)) {
            return value.map((item) => toJsonValue(item, seen) ?? null);
        }
        const result: JsonObject = {};
        for (const key of Object.keys(value)) {
            const item = toJsonValue((value as Record<string, unknown>)[key], seen);
            if (item !== undefined) {
                result[key] = item;
            }
        }
        return result;
    } finally {
        seen.delete(value);
    }
}

/** `raw` as a JSON object; anything that is not an object becomes `{}`. */
export function toJsonObject(raw: unknown): JsonObject {
    if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
        return {};
    }
    const value = toJsonValue(raw);
    return value !== undefined && isPlainObject(value) ? value : {};
}

/**
 * Dotted keys (`{"completion.enabled": false}`, as VS Code sometimes reports overrides) become nested
 * objects, merged with nested ones already there.
 */
export function expandDottedKeys(settings: JsonObject): JsonObject {
    const result: JsonObject = {};
    for (const [key, value] of Object.entries(settings)) {
        const expandedValue = isPlainObject(value) ? expandDottedKeys(value) : value;
        const parts = key.split('.').filter((part) => part.length > 0);
        if (parts.length === 0) {
            continue;
        }
        let target = result;
        for (const part of parts.slice(0, -1)) {
            const existing = target[part];
            if (!isPlainObject(existing)) {
                target[part] = {};
            }
            target = target[part] as JsonObject;
        }
        const last = parts[parts.length - 1] as string;
        const existing = target[last];
        target[last] =
            isPlainObject(existing) && isPlainObject(expandedValue)
                ? mergeObjects(existing, expandedValue)
                : expandedValue;
    }
    return result;
}

function mergeObjects(base: JsonObject, overlay: JsonObject): JsonObject {
    const result: JsonObject = { ...base };
    for (const [key, value] of Object.entries(overlay)) {
        const existing = result[key];
        result[key] =
            isPlainObject(existing) && isPlainObject(value)
                ? mergeObjects(existing, value)
                : value;
    }
    return result;
}

/**
 * The object the server gets as `initializationOptions`, in `workspace/configuration` answers for
 * section "infill" and in `workspace/didChangeConfiguration`: every group except the client-only ones.
 */
export function toServerSettings(raw: unknown): JsonObject {
    const settings = expandDottedKeys(toJsonObject(raw));
    for (const group of CLIENT_ONLY_GROUPS) {
        // eslint-disable-next-line @typescript-eslint/no-dynamic-delete -- the groups are a fixed list
        delete settings[group];
    }
    return settings;
}

/** Looks up a dotted path (`"completion.enabled"`) in nested settings. */
export function getPath(settings: JsonObject, path: string): JsonValue | undefined {
    let current: JsonValue | undefined = settings;
    for (const part of path.split('.')) {
        if (current === undefined || !isPlainObject(current)) {
            return undefined;
        }
        current = (current)[part];
    }
    return current;
}

/** Completions are on unless `infill.completion.enabled` is explicitly `false`. */
export function completionEnabled(settings: JsonObject): boolean {
    return getPath(expandDottedKeys(settings), COMPLETION_ENABLED_KEY) !== false;
}

function nonEmptyString(value: JsonValue | undefined): string | undefined {
    return typeof value === 'string' && value.trim().length > 0 ? value.trim() : undefined;
}

/** Reads the client-only settings, ignoring malformed values rather than failing to start. */
export function readClientSettings(raw: unknown): ClientSettings {
    const settings = expandDottedKeys(toJsonObject(raw));
    const commandValue = getPath(settings, 'server.command');
    const command =
        Array.isArray(commandValue) &&
        commandValue.length > 0 &&
        commandValue.every((part) => typeof part === 'string') &&
        nonEmptyString(commandValue[0]) !== undefined
            ? (commandValue)
            : undefined;
    const traceValue = getPath(settings, 'trace.server');
    const trace: TraceLevel = traceValue === 'messages' || traceValue === 'verbose' ? traceValue : 'off';
    return { command, python: nonEmptyString(getPath(settings, 'server.python')), trace };
}

/**
 * Answers the items of a `workspace/configuration` request: sections "infill" and "infill.<path>" come from
 * the server settings for the item's scope; any other section keeps the value VS Code produced (`fallback`).
 */
export function configurationAnswers(
    items: readonly { section?: string | null | undefined; scopeUri?: string | null | undefined }[],
    settingsFor: (scopeUri: string | undefined) => JsonObject,
    fallback: readonly unknown[],
): unknown[] {
    return items.map((item, index) => {
        const section = item.section ?? undefined;
        if (section === SECTION) {
            return settingsFor(item.scopeUri ?? undefined);
        }
        if (section?.startsWith(`${SECTION}.`) === true) {
            return getPath(settingsFor(item.scopeUri ?? undefined), section.slice(SECTION.length + 1)) ?? null;
        }
        return fallback[index] ?? null;
    });
}
