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
      cmd_env = c.cmd_env,
      asks_for_inline_completion = c.capabilities.textDocument.inlineCompletion ~= nil,
    }
  ]])
  H.eq({ 'no-such-infill-ls' }, config.cmd, 'cmd')
  H.eq({ completion = { maxTokens = 7 } }, config.settings.infill, 'settings.infill')
  H.eq({ completion = { maxTokens = 7 } }, config.init_options, 'init_options')
  H.eq(true, config.has_status_handler, 'infill/status handler')
  H.eq({ PYTHONSAFEPATH = '1' }, config.cmd_env, 'the project directory stays off the server\'s sys.path')
  H.eq(true, config.asks_for_inline_completion, 'inlineCompletion client capability')
  for _, ft in ipairs({ 'python', 'typescriptreact', 'go', 'rust', 'java', 'c', 'cpp', 'lua' }) do
    H.eq(true, vim.tbl_contains(config.filetypes, ft), 'filetype ' .. ft)
  end
  H.eq(true, missing:lua("return vim.lsp.is_enabled('infill_ls')"), 'enabled')
  H.eq('', missing:lua("return require('infill').status()"), 'statusline without a server')
  local report = H.health_lines(missing)
  H.contains(report, 'ERROR `no-such-infill-ls` not found on $PATH', 'health')
  H.contains(report, 'infill-ls is not running', 'health')
  H.contains(report, 'not run: `no-such-infill-ls` not found', 'health: no doctor without a server')

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

  -- With a running server: a file of another filetype gets no client; health shows the model state and
  -- runs doctor with the server's command and settings (an empty group goes as a JSON object).
  local ed = H.editor({ settings = { completion = { maxTokens = 7 }, diagnostics = {} } })
  ed:lua('vim.cmd.edit(...)', H.tmp .. '/notes.txt')
  H.eq(0, ed:lua("return #vim.lsp.get_clients({ name = 'infill_ls' })"), 'clients for a .txt file')
  ed:open('main.py', { 'print(1)' })
  ed:wait('the ready status', "return require('infill').state().state == 'ready'")
  report = H.health_lines(ed)
  H.contains(report, 'OK `' .. table.concat(H.server_cmd, ' ') .. '` found', 'health')
  H.contains(report, 'model state: ready model: fake-model - fake model loaded', 'health')
  H.contains(report, 'running, root ', 'health')
  H.contains(report, 'settings: {"completion": {"maxTokens": 7}, "diagnostics": {}}', 'health: doctor got the settings')
  H.contains(report, 'ERROR doctor: model: the fake model has no weights', 'health: the problem doctor found')
  H.contains(report, 'routes: ["main.py"]', 'health: doctor is told the files the server serves')
  H.lacks(report, 'OK infill-ls doctor', 'health: no all-clear with a problem')

  -- `:Infill doctor` shows the report in a scratch buffer; `:Infill log` opens the LSP log.
  ed:lua("_G.test_notified = {}; vim.notify = function(msg, level) table.insert(_G.test_notified, { msg = msg, level = level }) end")
  ed:lua("vim.cmd('Infill doctor')")
  local doctor = ed:wait('the doctor report buffer', [[
    for _, buf in ipairs(vim.api.nvim_list_bufs()) do
      if vim.api.nvim_buf_get_name(buf) == 'infill://doctor' then
        return table.concat(vim.api.nvim_buf_get_lines(buf, 0, -1, false), '\n')
      end
    end
    return false
  ]])
  H.contains(doctor, '  - model: the fake model has no weights', ':Infill doctor buffer')
  H.contains(doctor, 'routes: ["main.py"]', ':Infill doctor names the current buffer')
  local notified = ed:lua('return _G.test_notified')
  H.contains(notified[#notified].msg, 'infill-ls doctor found 1 problem: model: the fake model has no weights', ':Infill doctor')
  H.eq(vim.log.levels.WARN, notified[#notified].level, ':Infill doctor level')
  ed:lua("vim.cmd('Infill log')")
  H.eq(ed:lua('return vim.lsp.log.get_filename()'), ed:lua('return vim.api.nvim_buf_get_name(0)'), ':Infill log')
  ed:quit()
end)
