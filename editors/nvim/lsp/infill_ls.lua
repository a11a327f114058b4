--- Neovim LSP config for infill-ls (local fill-in-the-middle completion checked by tree-sitter).
---
--- Follows the `lsp/<name>.lua` convention (Neovim >= 0.11): with this plugin on 'runtimepath',
--- `vim.lsp.enable('infill_ls')` starts the server for the filetypes below. Override any field with
--- `vim.lsp.config('infill_ls', { ... })` or through `require('infill').setup(opts)`.

---@type vim.lsp.Config
return {
  cmd = { 'infill-ls' },
  -- Neovim filetypes of the languages the server has grammars for; the languageId sent is the filetype.
  filetypes = {
    'python',
    'javascript',
    'javascriptreact',
    'typescript',
    'typescriptreact',
    'go',
    'rust',
    'java',
    'c',
    'cpp',
    'lua',
  },
  root_markers = {
    '.git',
    'pyproject.toml',
    'setup.py',
    'package.json',
    'tsconfig.json',
    'go.mod',
    'Cargo.toml',
    'pom.xml',
    'build.gradle',
    'CMakeLists.txt',
    'compile_commands.json',
    '.luarc.json',
  },
  -- `python -m lsp_server` as cmd would put its working directory (the project) first on sys.path, and a
  -- project's own `syntax/` or `completion/` package would then stand in for the server's.
  cmd_env = { PYTHONSAFEPATH = '1' },
  -- The server works on single files too, so no root is required.
  workspace_required = false,
  -- Answered to `workspace/configuration` requests for the "infill" section and pushed with
  -- `workspace/didChangeConfiguration`; the same table goes out as initializationOptions.
  settings = { infill = vim.empty_dict() },
  init_options = vim.empty_dict(),
  capabilities = {
    textDocument = {
      -- Neovim < 0.12 does not advertise inline completion; the plugin renders it with extmarks.
      inlineCompletion = { dynamicRegistration = false },
    },
  },
  handlers = {
    ['infill/status'] = function(err, params, ctx)
      return require('infill.status').on_notification(err, params, ctx)
    end,
  },
}
