--- Test driver helpers: this (parent) Neovim runs a test script with `nvim -l`, and drives a child
--- `nvim --embed --headless` over msgpack-RPC. The child is a real editor: keys sent with
--- `nvim_input` go through its main loop, so insert mode, autocmds, mappings and timers behave as
--- when a person types. Every wait polls a condition with a deadline; nothing sleeps a fixed time.
---
--- Environment: INFILL_PLUGIN_DIR (editors/nvim), INFILL_SERVER_CMD (JSON list), INFILL_TMP (scratch dir).

local H = {}

H.plugin_dir = assert(os.getenv('INFILL_PLUGIN_DIR'), 'INFILL_PLUGIN_DIR not set')
H.tmp = assert(os.getenv('INFILL_TMP'), 'INFILL_TMP not set')
H.server_cmd = vim.json.decode(os.getenv('INFILL_SERVER_CMD') or '["infill-ls"]')
H.timeout_ms = tonumber(os.getenv('INFILL_TIMEOUT_MS') or '60000')

---@class Editor
---@field chan integer
---@field job integer
---@field stderr string[]
local Editor = {}
Editor.__index = Editor

--- Starts a child Neovim with the plugin on 'runtimepath' and `require('infill').setup(setup_opts)`.
---@param setup_opts table? Passed to setup(); `cmd` defaults to the server under test.
---@return Editor
function H.editor(setup_opts)
  local stderr = {}
  local job = vim.fn.jobstart({ vim.v.progpath, '--embed', '--headless', '--clean', '-n' }, {
    rpc = true,
    cwd = H.tmp,
    on_stderr = function(_, data)
      vim.list_extend(stderr, data)
    end,
  })
  assert(job > 0, 'could not start the child nvim')
  local self = setmetatable({ chan = job, job = job, stderr = stderr }, Editor)
  setup_opts = vim.tbl_deep_extend('force', { cmd = H.server_cmd }, setup_opts or {})
  self:lua(
    [[
      local plugin_dir, opts = ...
      vim.opt.runtimepath:prepend(plugin_dir)
      vim.o.swapfile = false
      vim.o.shortmess = vim.o.shortmess .. 'I'
      _G.test_notifications = {}
      vim.lsp.handlers['fake/requested'] = function(_, params)
        table.insert(_G.test_notifications, { method = 'fake/requested', params = params })
      end
      vim.lsp.handlers['fake/answered'] = function(_, params)
        table.insert(_G.test_notifications, { method = 'fake/answered', params = params })
      end
      require('infill').setup(opts)
    ]],
    H.plugin_dir,
    setup_opts
  )
  return self
end

--- Runs Lua in the child and returns its result.
---@param code string
function Editor:lua(code, ...)
  return vim.rpcrequest(self.chan, 'nvim_exec_lua', code, { ... })
end

--- Sends keys as if typed (`nvim_input` notation, e.g. '<Esc>', '<Tab>').
---@param keys string
function Editor:input(keys)
  vim.rpcrequest(self.chan, 'nvim_input', keys)
end

--- Polls `code` (Lua returning a truthy value when done) in the child until it holds.
---@param what string What is awaited, for the failure message.
---@param code string
---@param timeout_ms integer?
function Editor:wait(what, code, timeout_ms, ...)
  local args = { ... }
  local last
  local ok = vim.wait(timeout_ms or H.timeout_ms, function()
    last = vim.rpcrequest(self.chan, 'nvim_exec_lua', code, args)
    return last ~= nil and last ~= false and last ~= vim.NIL
  end, 20)
  if not ok then
    local state = vim.rpcrequest(
      self.chan,
      'nvim_exec_lua',
      [[
        local ok, infill = pcall(require, 'infill')
        local log = io.open(vim.lsp.log.get_filename())
        local log_text = log and log:read('*a') or ''
        if log then log:close() end
        return {
          mode = vim.api.nvim_get_mode().mode,
          line = vim.api.nvim_get_current_line(),
          cursor = vim.api.nvim_win_get_cursor(0),
          messages = vim.api.nvim_exec2('messages', { output = true }).output,
          infill = ok and infill.state() or nil,
          lsp_log_tail = log_text:sub(-3000),
        }
      ]],
      {}
    )
    error(('timed out waiting for %s (last value %s)\neditor: %s\nchild stderr:\n%s'):format(
      what,
      vim.inspect(last),
      vim.inspect(state),
      table.concat(self.stderr, '\n')
    ), 2)
  end
  return last
end

--- Opens a file with the given lines and waits until infill-ls is attached to it.
---@param name string File name under INFILL_TMP.
---@param lines string[]
---@return string path
function Editor:open(name, lines)
  local path = H.tmp .. '/' .. name
  vim.fn.writefile(lines, path)
  self:lua('vim.cmd.edit(vim.fn.fnameescape(...))', path)
  self:wait('infill-ls to attach', "return #vim.lsp.get_clients({ name = 'infill_ls', bufnr = 0 }) > 0")
  self:wait('infill-ls to initialize', "return vim.lsp.get_clients({ name = 'infill_ls', bufnr = 0 })[1].initialized")
  return path
end

---@return string[]
function Editor:lines()
  return self:lua('return vim.api.nvim_buf_get_lines(0, 0, -1, false)')
end

--- Text of the ghost text extmarks in a namespace: inline part and virtual lines, joined by newlines.
---@param namespace string
---@return string?
function Editor:ghost_text(namespace)
  local text = self:lua(
    [[
      local ns = vim.api.nvim_get_namespaces()[...]
      if not ns then return nil end
      local marks = vim.api.nvim_buf_get_extmarks(0, ns, 0, -1, { details = true })
      if #marks == 0 then return nil end
      local details = marks[1][4]
      local parts = {}
      local first = {}
      for _, chunk in ipairs(details.virt_text or {}) do first[#first + 1] = chunk[1] end
      parts[1] = table.concat(first)
      for _, line in ipairs(details.virt_lines or {}) do
        local chunks = {}
        for _, chunk in ipairs(line) do chunks[#chunks + 1] = chunk[1] end
        parts[#parts + 1] = table.concat(chunks)
      end
      return table.concat(parts, '\n')
    ]],
    namespace
  )
  if text == vim.NIL then
    return nil
  end
  return text
end

--- Child process ids of the child Neovim (the language servers it started).
---@return integer[]
function Editor:server_pids()
  local pid = self:lua('return vim.fn.getpid()')
  return vim.api.nvim_get_proc_children(pid)
end

--- Quits the child (`:qa!`) and waits for it to exit.
function Editor:quit()
  vim.rpcnotify(self.chan, 'nvim_command', 'qa!')
  local codes = vim.fn.jobwait({ self.job }, H.timeout_ms)
  assert(codes[1] ~= -1, 'child nvim did not exit')
end

--- Whether a process is alive (zombies count as gone: their program has ended).
---@param pid integer
---@return boolean
function H.process_alive(pid)
  local stat = io.open('/proc/' .. pid .. '/stat')
  if not stat then
    return false
  end
  local content = stat:read('*a') or ''
  stat:close()
  local state = content:match('^%d+ %b() (%a)')
  return state ~= nil and state ~= 'Z' and state ~= 'X'
end

--- Fails with a readable message when `actual ~= expected`.
function H.eq(expected, actual, what)
  if not vim.deep_equal(expected, actual) then
    error(('%s: expected %s, got %s'):format(what or 'value', vim.inspect(expected), vim.inspect(actual)), 2)
  end
end

--- Runs a test body and exits the parent with status 0 (passed) or 1 (error printed to stderr).
---@param body fun()
--- The text `:checkhealth infill` shows in the editor `ed`.
function H.health_lines(ed)
  return ed:lua([[
    vim.cmd('checkhealth infill')
    local lines = vim.api.nvim_buf_get_lines(0, 0, -1, false)
    vim.cmd('bwipeout ' .. vim.api.nvim_get_current_buf())
    return table.concat(lines, '\n')
  ]])
end

function H.contains(haystack, needle, what)
  if not haystack:find(needle, 1, true) then
    error(('%s: %q not found in:\n%s'):format(what, needle, haystack), 2)
  end
end

function H.lacks(haystack, needle, what)
  if haystack:find(needle, 1, true) then
    error(('%s: %q unexpectedly in:\n%s'):format(what, needle, haystack), 2)
  end
end

function H.run(body)
  local ok, err = xpcall(body, debug.traceback)
  if not ok then
    io.stderr:write(tostring(err) .. '\n')
    os.exit(1)
  end
  io.stdout:write('ok\n')
  os.exit(0)
end

return H
