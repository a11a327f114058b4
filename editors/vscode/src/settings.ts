/**
 * Reads the `infill` configuration from VS Code and hands it to the pure conversion in common/settings.
 */
import * as vscode from 'vscode';
import {
    ClientSettings,
    COMPLETION_ENABLED_KEY,
    JsonObject,
    readClientSettings,
    SECTION,
    toServerSettings,
} from './common/settings';

/** The whole `infill` section as plain JSON (the configuration object carries methods too). */
export function readRawSettings(scope?: vscode.ConfigurationScope): unknown {
    const configuration = vscode.workspace.getConfiguration(SECTION, scope);
    return JSON.parse(JSON.stringify(configuration)) as unknown;
}

/** What the server receives (initializationOptions, workspace/configuration, didChangeConfiguration). */
export function serverSettings(scope?: vscode.ConfigurationScope): JsonObject {
    return toServerSettings(readRawSettings(scope));
}

export function clientSettings(scope?: vscode.ConfigurationScope): ClientSettings {
    return readClientSettings(readRawSettings(scope));
}

/**
 * Sets `infill.completion.enabled` at the narrowest level that already defines it, so a workspace override
 * does not silently win over the user's toggle.
 */
export async function setCompletionEnabled(enabled: boolean): Promise<void> {
    const configuration = vscode.workspace.getConfiguration(SECTION);
    const inspected = configuration.inspect<boolean>(COMPLETION_ENABLED_KEY);
    const target =
        inspected?.workspaceFolderValue !== undefined
            ? vscode.ConfigurationTarget.WorkspaceFolder
            : inspected?.workspaceValue !== undefined
              ? vscode.ConfigurationTarget.Workspace
              : vscode.ConfigurationTarget.Global;
    await configuration.update(COMPLETION_ENABLED_KEY, enabled, target);
}

/** Whether a configuration change needs a server restart (how it is started) or just a settings push. */
export function classifyChange(event: vscode.ConfigurationChangeEvent): 'restart' | 'push' | 'none' {
    if (event.affectsConfiguration(`${SECTION}.server`)) {
        return 'restart';
    }
    if (event.affectsConfiguration(SECTION)) {
        return 'push';
    }
    return 'none';
}
