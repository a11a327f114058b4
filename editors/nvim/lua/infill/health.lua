--- `:checkhealth infill`: is the server installed, running, and has it loaded its model? Then the checks of
--- `infill-ls doctor` (llama.cpp build, model, self-checks, speed, grammars), run with the server's command
--- and settings, each problem it finds reported as an error.

local M = {}

--- How long `:checkhealth infill` waits for `infill-ls doctor` (it loads the model and measures its speed).
M.doctor_timeout_ms = 120000

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

--- Empty tables go out as JSON objects (the server wants the settings and each group as objects).
---@param value any
---@return any
local function json_objects(value)
  if type(value) ~= 'table' then
    return value
  end
  if next(value) == nil then
    return vim.empty_dict()
  end
  if vim.islist(value) then
    return value
  end
  local copy = {}
  for key, item in pairs(value) do
    copy[key] = json_objects(item)
  end
  return copy
end

--- The `infill-ls doctor` invocation for the effective config: its `cmd` plus `--settings FILE doctor`
--- (global options come before the subcommand), FILE holding the config's `infill` settings, then `files`
--- (doctor says where each one's content may go); run where the server runs, with `cmd_env`. Returns nil
--- and the reason when there is no command to run.
---@param files string[]? Files on disk whose route doctor should report.
---@return { argv: string[], cwd: string, env: table, settings_file: string }?, string?
function M.doctor_command(files)
  local ok, config = pcall(effective_config)
  if not ok or type(config) ~= 'table' then
    return nil, 'cannot load lsp/infill_ls.lua: ' .. tostring(config)
  end
  local cmd = config.cmd
  if type(cmd) ~= 'table' or type(cmd[1]) ~= 'string' then
    return nil, 'cmd is not a command line (a function or missing)'
  end
  if vim.fn.exepath(cmd[1]) == '' then
    return nil, ('`%s` not found'):format(cmd[1])
  end
  local settings = config.settings and config.settings.infill or {}
  local file = vim.fn.tempname() .. '.json'
  vim.fn.writefile({ vim.json.encode(json_objects(settings)) }, file)
  local client = require('infill.status').clients()[1]
  local argv = vim.list_extend(vim.deepcopy(cmd), { '--settings', file, 'doctor' })
  if files and #files > 0 then
    argv[#argv + 1] = '--' -- a file name may start with a dash
    vim.list_extend(argv, files)
  end
  local cwd = (client and client.root_dir) or config.cmd_cwd or vim.fn.getcwd()
  return { argv = argv, cwd = cwd, env = config.cmd_env or {}, settings_file = file }
end

--- Reads doctor's output (`vim.system()` result): its lines, the problems it lists after `problems:`
--- ("problems: none" when there are none), and a one-line summary.
---@param out vim.SystemCompleted
---@return { code: integer, lines: string[], problems: string[], complete: boolean, summary: string }
function M.doctor_result(out)
  local text = (out.stdout or '') .. (out.stderr or '')
  local lines = vim.split(text, '\n', { plain = true, trimempty = true })
  local problems, complete, listing = {}, false, false
  for _, line in ipairs(lines) do
    if line == 'problems: none' then
      complete = true
    elseif line == 'problems:' then
      complete, listing = true, true
    elseif listing then
      local problem = line:match('^%s+%- (.*)$')
      if not problem then
        listing = false
      else
        problems[#problems + 1] = problem
      end
    end
  end
  local summary
  if not complete then
    summary = out.code == 124 and ('infill-ls doctor did not finish in %d s'):format(M.doctor_timeout_ms / 1000)
      or ('infill-ls doctor exited with status %d before the end of its report'):format(out.code)
  elseif #problems == 0 then
    summary = 'infill-ls doctor: no problems'
  else
    summary = ('infill-ls doctor found %d problem%s: %s'):format(
      #problems,
      #problems == 1 and '' or 's',
      table.concat(problems, '; ')
    )
  end
  return { code = out.code, lines = lines, problems = problems, complete = complete, summary = summary }
end

--- The files of the buffers infill-ls serves (those on disk), for doctor's routes.
---@return string[]
function M.served_files()
  local files = {}
  for _, client in ipairs(require('infill.status').clients()) do
    for _, bufnr in ipairs(vim.lsp.get_buffers_by_client_id(client.id)) do
      local name = vim.api.nvim_buf_get_name(bufnr)
      if name ~= '' and vim.fn.filereadable(name) == 1 and not vim.tbl_contains(files, name) then
        files[#files + 1] = name
      end
    end
  end
  table.sort(files)
  return files
end

local function check_doctor()
  health.start('infill: doctor')
  local run, err = M.doctor_command(M.served_files())
  if not run then
    health.info('not run: ' .. err)
    return
  end
  local ok, out = pcall(function()
    return vim.system(run.argv, { text = true, cwd = run.cwd, env = run.env }):wait(M.doctor_timeout_ms)
  end)
  os.remove(run.settings_file)
  if not ok then
    health.error('could not run `' .. table.concat(run.argv, ' ') .. '`: ' .. tostring(out))
    return
  end
  local result = M.doctor_result(out)
  -- What doctor found out (build, model, speed, grammars), then its verdict.
  local report = {}
  for _, line in ipairs(result.lines) do
    if line:match('^problems:') then
      break
    end
    report[#report + 1] = line
  end
  health.info(table.concat(report, '\n'))
  if not result.complete then
    health.error(result.summary, { 'Run `' .. table.concat(run.argv, ' ', 1, #run.argv - 3) .. ' doctor` in a shell.' })
  elseif #result.problems == 0 then
    health.ok(result.summary)
  else
    for _, problem in ipairs(result.problems) do
      health.error('doctor: ' .. problem)
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
  check_doctor()
end

return M
