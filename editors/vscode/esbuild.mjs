// Bundles the extension into one file, dist/extension.js (as microsoft/vscode-python-tools-extension-template
// does): vscode-languageclient and the rest of the runtime dependencies are inlined, so the .vsix carries no
// node_modules. `vscode` is provided by the editor at run time.
//   node esbuild.mjs               development build (source map)
//   node esbuild.mjs --production  minified, what `npm run package` ships
import * as esbuild from 'esbuild';

const production = process.argv.includes('--production');

await esbuild.build({
    entryPoints: ['src/extension.ts'],
    outfile: 'dist/extension.js',
    bundle: true,
    format: 'cjs',
    platform: 'node',
    // VS Code 1.91 (the oldest engine in package.json) runs extensions on Node.js 20.
    target: 'node20',
    external: ['vscode'],
    minify: production,
    sourcemap: !production,
    sourcesContent: false,
    logLevel: 'warning',
});
