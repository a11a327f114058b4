--- infill.nvim: Neovim client for infill-ls, a local fill-in-the-middle completion server.
---
--- `setup()` configures and enables the `infill_ls` LSP config (see `lsp/infill_ls.lua`), shows the
--- server's inline completions as ghost text (Neovim's own `vim.lsp.inline_completion` on 0.12+,
--- extmarks before that) and installs keymaps to accept, dismiss and cycle suggestions.

local api = vim.api

local M = {}

---@class infill.Keymaps
---@field accept string|false Accept the suggestion; without one, the key's previous mapping or the key itself.
---@field dismiss string|false Hide the suggestion (leaving insert mode hides it too).
---@field next string|false Show the next suggestion.
---@field prev string|false Show the previous suggestion.
---@field trigger string|false Ask for a suggestion now.

---@class infill.Options
---@field cmd string[]? Server command; default `{ 'infill-ls' }`.
---@field filetypes string[]? Filetypes to start the server for; default: all supported languages.
---@field root_markers string[]? Files marking a project root.
---@field settings table? Server settings (the `infill` section), e.g. `{ completion = { ... } }`.
---@field enable boolean Enable the `infill_ls` config (start the server for matching buffers).
---@field ghost_text 'auto'|'builtin'|'extmark'|false How suggestions are shown; `false`: not at all.
---@field auto_trigger boolean Request suggestions while typing (else only with `keymaps.trigger`).
---@field debounce_ms integer Pause in typing before a request (extmark ghost text only).
---@field keymaps infill.Keymaps Insert-mode keys, buffer-local to buffers the server serves.

---@type infill.Options
M.defaults = {
  cmd = nil,
  filetypes = nil,
  root_markers = nil,
  settings = {},
  enable = true,
  ghost_text = 'auto',
  auto_trigger = true,
  debounce_ms = 150,
  keymaps = {
    accept = '<Tab>',
    dismiss = '<C-]>',
    next = '<M-]>',
    prev = '<M-[>',
    trigger = '<M-\\>',
  },
}

---@type infill.Options
M.options = vim.deepcopy(M.defaults)

local GROUP = 'infill'
local HAS_BUILTIN = vim.lsp.inline_completion ~= nil
local HAS_LSP_CONFIG = vim.fn.has('nvim-0.11') == 1 and type(vim.lsp.config) == 'table'

--- Which ghost text implementation is in use: 'builtin', 'extmark' or 'none'.
---@return 'builtin'|'extmark'|'none'
function M.backend()
  local mode = M.options.ghost_text
  if mode == false then
    return 'none'
  end
  if mode == 'builtin' or (mode == 'auto' and HAS_BUILTIN) then
    return HAS_BUILTIN and 'builtin' or 'extmark'
  end
  return 'extmark'
end

---@param opts table?
---@return infill.Options
local function validate(opts)
  opts = vim.tbl_deep_extend('force', vim.deepcopy(M.defaults), opts or {})
  local checks = {
    { 'cmd', 'table', true },
    { 'filetypes', 'table', true },
    { 'root_markers', 'table', true },
    { 'settings', 'table' },
    { 'enable', 'boolean' },
    { 'auto_trigger', 'boolean' },
    { 'debounce_ms', 'number' },
    { 'keymaps', 'table' },
  }
  -- A plain type check: vim.validate() changed its signature between 0.10 and 0.11.
  for _, check in ipairs(checks) do
    local name, expected, optional = check[1], check[2], check[3]
    local value = opts[name]
    if not (type(value) == expected or (optional and value == nil)) then
      error(('infill.setup: %s: expected %s, got %s'):format(name, expected, vim.inspect(value)), 0)
    end
  end
  local modes = { auto = true, builtin = true, extmark = true, [false] = true }
  if not modes[opts.ghost_text] then
    error("infill.setup: ghost_text must be 'auto', 'builtin', 'extmark' or false", 0)
  end
  return opts
end

--- The LSP config fields that setup() overrides on top of `lsp/infill_ls.lua`.
---@param opts infill.Options
---@return table
local function config_overrides(opts)
  -- An empty Lua table goes out as a JSON array; the settings and each of their groups are objects.
  local settings = vim.empty_dict()
  for group, values in pairs(opts.settings) do
    settings[group] = (type(values) == 'table' and next(values) == nil) and vim.empty_dict() or values
  end
  local overrides = {
    settings = { infill = settings },
    init_options = settings,
  }
  overrides.cmd = opts.cmd
  overrides.filetypes = opts.filetypes
  overrides.root_markers = opts.root_markers
  return overrides
end

--- The complete config: `lsp/infill_ls.lua` from 'runtimepath' plus the overrides.
---@param opts infill.Options
---@return table
function M.lsp_config(opts)
  opts = opts or M.options
  local base = {}
  local file = api.nvim_get_runtime_file('lsp/infill_ls.lua', false)[1]
  if file then
    base = dofile(file)
  end
  return vim.tbl_deep_extend('force', base, config_overrides(opts))
end

--- Neovim 0.10 has no `vim.lsp.config`/`vim.lsp.enable`: start the client from a FileType autocmd.
---@param opts infill.Options
local function enable_legacy(opts)
  local config = M.lsp_config(opts)
  config.name = 'infill_ls'
  config.capabilities =
    vim.tbl_deep_extend('force', vim.lsp.protocol.make_client_capabilities(), config.capabilities or {})
  local filetypes = {}
  for _, ft in ipairs(config.filetypes or {}) do
    filetypes[ft] = true
  end
  local function start(bufnr)
    if not filetypes[vim.bo[bufnr].filetype] or vim.bo[bufnr].buftype ~= '' then
      return
    end
    local root = vim.fs.root(bufnr, config.root_markers or {})
    local name = api.nvim_buf_get_name(bufnr)
    config.root_dir = root or (name ~= '' and vim.fs.dirname(name)) or vim.fn.getcwd()
    vim.lsp.start(config, { bufnr = bufnr })
  end
  api.nvim_create_autocmd('FileType', {
    group = GROUP,
    callback = function(args)
      start(args.buf)
    end,
  })
  for _, bufnr in ipairs(api.nvim_list_bufs()) do
    if api.nvim_buf_is_loaded(bufnr) then
      start(bufnr)
    end
  end
end

--- Accepts the suggestion on screen. Returns false when there is none (so a mapping can fall back).
--- Safe in expr mappings: the buffer is changed right after the mapping returns.
---@return boolean
function M.accept()
  local backend = M.backend()
  if backend == 'builtin' then
    return vim.lsp.inline_completion.get() == true
  end
  if backend == 'extmark' and require('infill.ghost').visible(0) then
    vim.schedule(function()
      require('infill.ghost').accept(0)
    end)
    return true
  end
  return false
end

--- Whether a suggestion is shown in the current buffer.
---@return boolean
function M.visible()
  local backend = M.backend()
  if backend == 'extmark' then
    return require('infill.ghost').visible(0)
  elseif backend == 'builtin' then
    local ns = api.nvim_get_namespaces()['nvim.lsp.inline_completion']
    return ns ~= nil and #api.nvim_buf_get_extmarks(0, ns, 0, -1, { limit = 1 }) > 0
  end
  return false
end

--- Hides the suggestion in the current buffer.
function M.dismiss()
  local backend = M.backend()
  if backend == 'extmark' then
    require('infill.ghost').dismiss(0)
  elseif backend == 'builtin' then
    -- The builtin UI has no dismiss API; re-enabling the capability for the buffer clears it.
    if vim.lsp.inline_completion.is_enabled({ bufnr = 0 }) then
      vim.lsp.inline_completion.enable(false, { bufnr = 0 })
      vim.lsp.inline_completion.enable(true, { bufnr = 0 })
    end
  end
end

--- Shows the next (`count` > 0) or previous (`count` < 0) suggestion.
---@param count integer
function M.select(count)
  local backend = M.backend()
  if backend == 'extmark' then
    require('infill.ghost').select(count, 0)
  elseif backend == 'builtin' then
    vim.lsp.inline_completion.select({ count = count })
  end
end

--- Asks the server for a suggestion at the cursor now.
function M.trigger()
  local backend = M.backend()
  if backend == 'extmark' then
    require('infill.ghost').trigger(0)
  elseif backend == 'builtin' then
    -- The builtin UI requests on its own autocmds; firing one of them is its only trigger.
    local bufnr = api.nvim_get_current_buf()
    pcall(api.nvim_exec_autocmds, 'CursorMovedI', {
      group = 'nvim.lsp.inline_completion:' .. bufnr,
      buffer = bufnr,
    })
  end
end

local function termcodes(keys)
  return api.nvim_replace_termcodes(keys, true, false, true)
end

--- What the accept key does when there is no suggestion: whatever it was mapped to before (for
--- example a completion plugin's <Tab>), else the key itself. Returns keys for an expr mapping.
---@param lhs string
---@param bufnr integer
---@return fun(): string
local function fallback_for(lhs, bufnr)
  local existing = api.nvim_buf_call(bufnr, function()
    return vim.fn.maparg(lhs, 'i', false, true)
  end)
  if vim.tbl_isempty(existing) or vim.startswith(existing.desc or '', 'infill:') then
    return function()
      return termcodes(lhs)
    end
  end
  local is_expr = existing.expr == 1
  return function()
    if existing.callback then
      local keys = existing.callback()
      if not is_expr then
        return ''
      end
      keys = type(keys) == 'string' and keys or ''
      return existing.replace_keycodes == 1 and termcodes(keys) or keys
    end
    local rhs = existing.rhs or ''
    if is_expr then
      return api.nvim_eval(rhs)
    end
    -- A plain mapping: feed its keys, remapped unless it was a noremap.
    api.nvim_feedkeys(termcodes(rhs), existing.noremap == 1 and 'n' or 'm', false)
    return ''
  end
end

---@param bufnr integer
local function set_keymaps(bufnr)
  -- Once per buffer: on a re-attach the accept key's previous mapping would be our own.
  if vim.b[bufnr].infill_keymaps then
    return
  end
  vim.b[bufnr].infill_keymaps = true
  local keys = M.options.keymaps
  local function map(lhs, fn, desc, opts)
    if lhs then
      vim.keymap.set('i', lhs, fn, vim.tbl_extend('force', { buffer = bufnr, desc = desc }, opts or {}))
    end
  end
  if keys.accept then
    local fallback = fallback_for(keys.accept, bufnr)
    map(keys.accept, function()
      -- Extmark UI: accept through <Cmd> so it happens in order with keys typed after <Tab>.
      if M.backend() == 'extmark' and require('infill.ghost').visible(0) then
        return termcodes('<Cmd>lua require("infill.ghost").accept(0)<CR>')
      end
      if M.backend() == 'builtin' and M.accept() then
        return ''
      end
      return fallback()
    end, 'infill: accept suggestion', { expr = true, replace_keycodes = false })
  end
  map(keys.dismiss, M.dismiss, 'infill: dismiss suggestion')
  map(keys.next, function()
    M.select(1)
  end, 'infill: next suggestion')
  map(keys.prev, function()
    M.select(-1)
  end, 'infill: previous suggestion')
  map(keys.trigger, M.trigger, 'infill: request a suggestion')
end

--- Starts the chosen ghost text UI and keymaps for a buffer the server attached to.
---@param bufnr integer
---@param client vim.lsp.Client
local function on_attach(bufnr, client)
  local backend = M.backend()
  if backend == 'builtin' then
    if M.options.auto_trigger then
      -- Buffer scope: the builtin shows inline completion only where the buffer is enabled.
      vim.lsp.inline_completion.enable(true, { bufnr = bufnr })
    end
  elseif backend == 'extmark' then
    local ghost = require('infill.ghost')
    ghost.options.debounce_ms = M.options.debounce_ms
    ghost.options.auto_trigger = M.options.auto_trigger
    ghost.attach(bufnr, client.id)
  end
  if backend ~= 'none' then
    set_keymaps(bufnr)
  end
end

--- Turns automatic suggestions on/off (all buffers); `nil` toggles.
---@param enable boolean?
function M.enable(enable)
  if enable == nil then
    enable = not M.options.auto_trigger
  end
  M.options.auto_trigger = enable
  local backend = M.backend()
  if backend == 'builtin' then
    for _, client in ipairs(require('infill.status').clients()) do
      for _, bufnr in ipairs(vim.lsp.get_buffers_by_client_id(client.id)) do
        vim.lsp.inline_completion.enable(enable, { bufnr = bufnr })
      end
    end
  elseif backend == 'extmark' then
    local ghost = require('infill.ghost')
    ghost.options.auto_trigger = enable
    if not enable then
      for _, bufnr in ipairs(api.nvim_list_bufs()) do
        ghost.dismiss(bufnr)
      end
    end
  end
end

--- Status of the server for the current buffer: `{ state, message, model, warnings, route, client_id }`.
--- `state` is the server's ('loading', 'ready', 'error', 'disabled') or 'starting'/'stopped'; `route`
--- (`{ uri, target, reason, text }`, or nil) says where the buffer's content goes.
---@param bufnr integer?
---@return infill.Status
function M.state(bufnr)
  return require('infill.status').get(bufnr or api.nvim_get_current_buf())
end

--- Short text for a statusline (`infill: ready`, `infill: ready (remote)`, `infill: ready (local only,
--- 1 warning)`), empty when the buffer has no server.
---@return string
function M.status()
  return require('infill.status').statusline(api.nvim_get_current_buf())
end

--- The server's log: Neovim's LSP log, where the server's stderr goes.
---@return string
function M.log_path()
  return vim.lsp.log.get_filename()
end

--- Runs `infill-ls doctor` with the server's command and settings (asynchronously), naming the current
--- buffer's file (doctor says where its content may go), and shows its report in a scratch buffer;
--- `on_done(result)` gets `{ code, lines, problems }` when it ends.
---@param on_done fun(result: { code: integer, lines: string[], problems: string[] })?
function M.doctor(on_done)
  local health = require('infill.health')
  local name = api.nvim_buf_get_name(0)
  local run, err = health.doctor_command(name ~= '' and vim.fn.filereadable(name) == 1 and { name } or {})
  if not run then
    vim.notify('infill: cannot run doctor: ' .. err, vim.log.levels.ERROR)
    return
  end
  vim.notify('infill: running ' .. table.concat(run.argv, ' '))
  vim.system(run.argv, { text = true, cwd = run.cwd, env = run.env }, function(out)
    vim.schedule(function()
      os.remove(run.settings_file)
      local result = health.doctor_result(out)
      local buf = api.nvim_create_buf(false, true)
      vim.bo[buf].bufhidden = 'wipe'
      api.nvim_buf_set_lines(buf, 0, -1, false, result.lines)
      pcall(api.nvim_buf_set_name, buf, 'infill://doctor')
      vim.cmd('botright split')
      api.nvim_win_set_buf(0, buf)
      vim.bo[buf].modifiable = false
      local level = (result.code == 0 and #result.problems == 0) and vim.log.levels.INFO or vim.log.levels.WARN
      vim.notify(result.summary, level)
      if on_done then
        on_done(result)
      end
    end)
  end)
end

local function create_command()
  local actions = {
    status = function()
      local status = require('infill.status')
      local s = M.state()
      local model = s.model and (' [' .. s.model .. ']') or ''
      local lines = { ('infill: %s%s %s'):format(s.state, model, status.message(s)) }
      if s.route then
        lines[#lines + 1] = 'this file: ' .. status.route_text(s.route)
      end
      for _, warning in ipairs(s.warnings or {}) do
        lines[#lines + 1] = 'warning: ' .. warning
      end
      local level = #(s.warnings or {}) > 0 and vim.log.levels.WARN or nil
      vim.notify(table.concat(lines, '\n'), level)
    end,
    log = function()
      vim.cmd.tabedit(vim.fn.fnameescape(M.log_path()))
    end,
    doctor = function()
      M.doctor()
    end,
    enable = function()
      M.enable(true)
    end,
    disable = function()
      M.enable(false)
    end,
    toggle = function()
      M.enable(nil)
    end,
  }
  api.nvim_create_user_command('Infill', function(args)
    local action = actions[args.fargs[1] or 'status']
    if not action then
      vim.notify('infill: unknown subcommand ' .. args.fargs[1], vim.log.levels.ERROR)
      return
    end
    action()
  end, {
    nargs = '?',
    complete = function()
      return vim.tbl_keys(actions)
    end,
    desc = 'infill-ls: status | log | doctor | enable | disable | toggle',
  })
end

--- Configures the plugin, enables the `infill_ls` LSP config and the ghost text UI.
---@param opts infill.Options|table|nil
function M.setup(opts)
  M.options = validate(opts)
  api.nvim_create_augroup(GROUP, { clear = true })
  api.nvim_set_hl(0, 'InfillGhostText', { link = 'Comment', default = true })
  create_command()

  api.nvim_create_autocmd('LspAttach', {
    group = GROUP,
    callback = function(args)
      local client = vim.lsp.get_client_by_id(args.data.client_id)
      if client and client.name == 'infill_ls' then
        on_attach(args.buf, client)
        if args.buf == api.nvim_get_current_buf() then
          require('infill.status').focus(args.buf)
        end
      end
    end,
  })
  -- The server reports the route of the document the user is in: tell it which one that is, and where
  -- the cursor is (scheduled: BufEnter comes before the buffer's last cursor position is restored).
  api.nvim_create_autocmd('BufEnter', {
    group = GROUP,
    callback = function(args)
      vim.schedule(function()
        require('infill.status').focus(args.buf)
      end)
    end,
  })
  api.nvim_create_autocmd('LspDetach', {
    group = GROUP,
    callback = function(args)
      local client = vim.lsp.get_client_by_id(args.data.client_id)
      if client and client.name == 'infill_ls' then
        require('infill.ghost').detach(args.buf)
        if #vim.lsp.get_buffers_by_client_id(client.id) <= 1 then
          require('infill.status').forget(client.id)
        end
      end
    end,
  })

  if HAS_LSP_CONFIG then
    vim.lsp.config('infill_ls', config_overrides(M.options))
    if M.options.enable then
      vim.lsp.enable('infill_ls')
    end
  elseif M.options.enable then
    enable_legacy(M.options)
  end
  M._setup_done = true
end

return M
