--- `:checkhealth infill`: is the server installed, running, and has it loaded its model?

local M = {}

local health = vim.health

---@return table config The effective `infill_ls` LSP config.
local function effective_config()
  if vim.fn.has('nvim-0.11') == 1 and type(vim.lsp.config) == 'table' then
    local ok, config = pcall(function()
      return vim.lsp.config.infill_ls
    end)
    if ok and config then
      return config
    end
  end
  local infill = package.loaded['infill']
  return infill and infill.lsp_config() or require('infill').lsp_config(require('infill').defaults)
end

local function check_neovim()
  health.start('infill: Neovim')
  local v = vim.version()
  local version = ('%d.%d.%d'):format(v.major, v.minor, v.patch)
  if vim.fn.has('nvim-0.10') == 0 then
    health.error('Neovim ' .. version .. ' is too old', { 'infill.nvim needs Neovim 0.10 or newer' })
    return
  end
  health.ok('Neovim ' .. version)
  local infill = package.loaded['infill']
  if not (infill and infill._setup_done) then
    health.warn("require('infill').setup() has not been called", {
      "Call require('infill').setup() (lazy.nvim: `opts = {}`) to get ghost text and keymaps.",
    })
    return
  end
  local backend = infill.backend()
  local descriptions = {
    builtin = 'vim.lsp.inline_completion (built in)',
    extmark = 'extmarks drawn by infill.nvim',
    none = 'off (ghost_text = false)',
  }
  health.ok('ghost text: ' .. descriptions[backend])
  local accept = infill.options.keymaps.accept
  health.info('accept key: ' .. (accept or 'none (keymaps.accept = false)'))
end

---@param config table
local function check_executable(config)
  health.start('infill: server executable')
  local cmd = config.cmd
  if type(cmd) == 'function' then
    health.info('cmd is a function (custom transport); not checked')
    return
  end
  if type(cmd) ~= 'table' or type(cmd[1]) ~= 'string' then
    health.error('no server command configured', { "Set cmd = { 'infill-ls' } in setup()." })
    return
  end
  local path = vim.fn.exepath(cmd[1])
  if path == '' then
    health.error(('`%s` not found on $PATH'):format(cmd[1]), {
      'Install the server: pip install infill-ls (or pipx install infill-ls)',
      "Or point the plugin at it: require('infill').setup({ cmd = { '/path/to/infill-ls' } })",
    })
    return
  end
  health.ok(('`%s` found: %s'):format(table.concat(cmd, ' '), path))
end

local STATE_REPORT = {
  ready = 'ok',
  loading = 'info',
  starting = 'info',
  disabled = 'warn',
  error = 'error',
}

local function check_server()
  health.start('infill: server')
  local status = require('infill.status')
  local clients = status.clients()
  if #clients == 0 then
    health.info('infill-ls is not running (it starts when you open a file of a supported filetype)')
    return
  end
  for _, client in ipairs(clients) do
    local buffers = vim.lsp.get_buffers_by_client_id(client.id)
    health.ok(('client %d running, root %s, %d buffer(s), position encoding %s'):format(
      client.id,
      client.root_dir or '(single file)',
      #buffers,
      client.offset_encoding or '?'
    ))
    local caps = client.server_capabilities or {}
    if not caps.inlineCompletionProvider then
      health.warn('the server does not offer textDocument/inlineCompletion')
    end
    if not caps.codeActionProvider then
      health.info('the server offers no code actions (syntax fixes)')
    end
    local s = status.by_client[client.id] or status.get(buffers[1])
    local model = s.model and (' model: ' .. s.model) or ''
    local message = status.message(s)
    local line = ('model state: %s%s%s'):format(s.state, model, message ~= '' and (' - ' .. message) or '')
    local level = STATE_REPORT[s.state] or 'info'
    if level == 'error' then
      health.error(line, { 'Run `infill-ls doctor` in a shell for details.' })
    elseif level == 'warn' then
      health.warn(line, { 'Suggestions are off; check the `infill.model` settings.' })
    else
      health[level](line)
    end
    -- Self-check findings: suggestions work, but worse than they should (e.g. slower).
    for _, warning in ipairs(s.warnings or {}) do
      health.warn('model: ' .. warning, { 'Run `infill-ls doctor` in a shell for details.' })
    end
  end
end

function M.check()
  check_neovim()
  local ok, config = pcall(effective_config)
  if not ok or type(config) ~= 'table' then
    health.error('cannot load lsp/infill_ls.lua: ' .. tostring(config), {
      "Put the plugin's directory on 'runtimepath'.",
    })
    return
  end
  check_executable(config)
  health.info('filetypes: ' .. table.concat(config.filetypes or {}, ', '))
  check_server()
end

return M
