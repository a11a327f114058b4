--- The LSP config (lsp/infill_ls.lua merged with setup() options), option validation, the
--- statusline helper and `:checkhealth infill`, with and without a running server.
local H = dofile(vim.fs.joinpath(vim.fs.dirname(arg[0]), 'harness.lua'))

H.run(function()
  -- A command that does not exist: health says so, and nothing starts.
  local missing = H.editor({ cmd = { 'no-such-infill-ls' }, settings = { completion = { maxTokens = 7 } } })
  local config = missing:lua([[
    local c = vim.lsp.config.infill_ls
    return {
      cmd = c.cmd,
      filetypes = c.filetypes,
      settings = c.settings,
      init_options = c.init_options,
      has_status_handler = type(c.handlers['infill/status']) == 'function',
      asks_for_inline_completion = c.capabilities.textDocument.inlineCompletion ~= nil,
    }
  ]])
  H.eq({ 'no-such-infill-ls' }, config.cmd, 'cmd')
  H.eq({ completion = { maxTokens = 7 } }, config.settings.infill, 'settings.infill')
  H.eq({ completion = { maxTokens = 7 } }, config.init_options, 'init_options')
  H.eq(true, config.has_status_handler, 'infill/status handler')
  H.eq(true, config.asks_for_inline_completion, 'inlineCompletion client capability')
  for _, ft in ipairs({ 'python', 'typescriptreact', 'go', 'rust', 'java', 'c', 'cpp', 'lua' }) do
    H.eq(true, vim.tbl_contains(config.filetypes, ft), 'filetype ' .. ft)
  end
  H.eq(true, missing:lua("return vim.lsp.is_enabled('infill_ls')"), 'enabled')
  H.eq('', missing:lua("return require('infill').status()"), 'statusline without a server')
  local report = H.health_lines(missing)
  H.contains(report, 'ERROR `no-such-infill-ls` not found on $PATH', 'health')
  H.contains(report, 'infill-ls is not running', 'health')

  -- Bad options fail loudly with the option's name.
  local err = missing:lua([[
    local ok, err = pcall(require('infill').setup, { ghost_text = 'fancy' })
    return not ok and err or ''
  ]])
  H.contains(err, 'ghost_text', 'setup error')
  err = missing:lua([[
    local ok, err = pcall(require('infill').setup, { debounce_ms = 'soon' })
    return not ok and err or ''
  ]])
  H.contains(err, 'debounce_ms', 'setup error')
  missing:quit()

  -- With a running server: a file of another filetype gets no client; health shows the model state.
  local ed = H.editor({})
  ed:lua('vim.cmd.edit(...)', H.tmp .. '/notes.txt')
  H.eq(0, ed:lua("return #vim.lsp.get_clients({ name = 'infill_ls' })"), 'clients for a .txt file')
  ed:open('main.py', { 'print(1)' })
  ed:wait('the ready status', "return require('infill').state().state == 'ready'")
  report = H.health_lines(ed)
  H.contains(report, 'OK `' .. table.concat(H.server_cmd, ' ') .. '` found', 'health')
  H.contains(report, 'model state: ready model: fake-model - fake model loaded', 'health')
  H.contains(report, 'running, root ', 'health')
  ed:quit()
end)
