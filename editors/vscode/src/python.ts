/**
 * The interpreter the Python extension (ms-python.python) selected, if that extension is installed.
 * Its API is reached without a typed dependency, so every step is checked at runtime.
 */
import * as vscode from 'vscode';

const PYTHON_EXTENSION_ID = 'ms-python.python';

interface EnvironmentPath {
    readonly path: string;
}
interface ResolvedEnvironment {
    readonly executable: { readonly uri?: vscode.Uri | undefined };
}
interface PythonEnvironmentsApi {
    getActiveEnvironmentPath(resource?: vscode.Uri): EnvironmentPath;
    resolveEnvironment(environment: EnvironmentPath): Promise<ResolvedEnvironment | undefined>;
}
interface PythonExtensionApi {
    readonly environments?: PythonEnvironmentsApi;
}

/** The interpreter argv, or undefined when there is no Python extension or no usable selection. */
export async function pythonExtensionInterpreter(
    resource: vscode.Uri | undefined,
    log: vscode.LogOutputChannel,
): Promise<string[] | undefined> {
    const extension = vscode.extensions.getExtension<PythonExtensionApi>(PYTHON_EXTENSION_ID);
    if (extension === undefined) {
        return undefined;
    }
    try {
        const api = extension.isActive ? extension.exports : await extension.activate();
        const environments = api.environments;
        if (environments === undefined) {
            return undefined;
        }
        const active = environments.getActiveEnvironmentPath(resource);
        const resolved = await environments.resolveEnvironment(active);
        const executable = resolved?.executable.uri?.fsPath;
        return executable !== undefined && executable.length > 0 ? [executable] : undefined;
    } catch (error) {
        log.warn(`Could not ask the Python extension for its interpreter: ${String(error)}`);
        return undefined;
    }
}
