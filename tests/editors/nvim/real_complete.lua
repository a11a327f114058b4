--- End to end with the real infill-ls and its default model, one server for all steps:
--- 1. Neovim 0.12's builtin UI: type in a Python file (the server must follow the edits), wait for
---    the suggestion, accept it with <Tab> and check the buffer now holds exactly the suggested text;
--- 2. the same with the extmark UI (the Neovim 0.10/0.11 path) in a second buffer;
--- 3. quit while a completion is being generated: no server process may survive.
local H = dofile(vim.fs.joinpath(vim.fs.dirname(arg[0]), 'harness.lua'))

local NAMESPACES = { builtin = 'nvim.lsp.inline_completion', extmark = 'infill.ghost' }
-- The CPU may be shared and slow: give the model all the time it needs, and keep suggestions short.
-- (The empty group checks that the plugin sends it as a JSON object, which the server insists on.)
local SETTINGS = { completion = { timeBudgetMs = 60000, maxTokens = 32 }, index = { enabled = false }, diagnostics = {} }

--- Types `typed` at the end of the last line (so the server must follow the edits), waits for
--- ghost text, accepts it; returns the suggestion.
---@param ed Editor
---@param mode 'builtin'|'extmark'
---@param before string[]
---@param typed string
local function complete_and_accept(ed, mode, before, typed)
  H.eq(mode, ed:lua("return require('infill').backend()"), 'backend')
  local namespace = NAMESPACES[mode]
  ed:input('GA' .. typed)
  ed:wait(mode .. ' ghost text', [[
    local ns, line = ...
    ns = vim.api.nvim_get_namespaces()[ns]
    return vim.api.nvim_get_current_line() == line
      and ns ~= nil and #vim.api.nvim_buf_get_extmarks(0, ns, 0, -1, {}) > 0
  ]], nil, namespace, before[#before] .. typed)
  local shown = ed:ghost_text(namespace)
  assert(shown and shown:match('%S'), 'empty suggestion: ' .. vim.inspect(shown))
  if mode == 'extmark' then
    H.eq(shown, ed:lua("return require('infill.ghost').current(0).text"), 'server suggestion vs ghost text')
  end

  local shown_lines = vim.split(shown, '\n', { plain = true })
  local expected = vim.list_slice(before, 1, #before - 1)
  expected[#expected + 1] = before[#before] .. typed .. shown_lines[1]
  vim.list_extend(expected, shown_lines, 2)
  ed:input('<Tab>')
  ed:wait(mode .. ': the suggestion in the buffer', [[
    return vim.deep_equal(vim.api.nvim_buf_get_lines(0, 0, -1, false), ...)
  ]], nil, expected)
  H.eq({ #expected, #expected[#expected] }, ed:lua('return vim.api.nvim_win_get_cursor(0)'), 'cursor')
  ed:input('<Esc>')
  return shown
end

H.run(function()
  local has_builtin = H.editor({ enable = false })
  local builtin = has_builtin:lua('return vim.lsp.inline_completion ~= nil')
  has_builtin:quit()

  local ed = H.editor({ ghost_text = builtin and 'builtin' or 'extmark', settings = SETTINGS })
  local first = { 'def add(a, b):', '    ' }
  ed:open('add.py', first)
  ed:wait('the model to load', "return require('infill').state().state == 'ready'")
  -- The local model only: the buffer's route settles on "local" (didFocus told the server which buffer).
  ed:wait('the local route', "local s = require('infill').state(); return s.route ~= nil and s.route.target == 'local'")
  H.eq('infill: ready (local)', ed:lua("return require('infill').status()"), 'statusline')
  local messages = ed:lua("return vim.api.nvim_exec2('messages', { output = true }).output")
  assert(not messages:find('invalid settings'), 'the server rejected the settings: ' .. messages)
  local suggestions = {}
  if builtin then
    suggestions.builtin = complete_and_accept(ed, 'builtin', first, 'return ')
  end

  ed:lua(
    "local cmd, settings = ...; require('infill').setup({ ghost_text = 'extmark', cmd = cmd, settings = settings })",
    H.server_cmd,
    SETTINGS
  )
  local second = { 'def multiply(x, y):', '    ret' }
  ed:open('multiply.py', second)
  suggestions.extmark = complete_and_accept(ed, 'extmark', second, 'urn ')
  io.stdout:write(vim.json.encode(suggestions) .. '\n')

  -- Quit while the server generates: ask for a suggestion and quit before it answers.
  local pids = vim.api.nvim_get_proc_children(ed:lua('return vim.fn.getpid()'))
  ed:input('o')
  ed:lua("require('infill').trigger()")
  ed:wait('a completion request in flight', [[
    for _, request in pairs(vim.lsp.get_clients({ name = 'infill_ls' })[1].requests) do
      if request.method == 'textDocument/inlineCompletion' then return true end
    end
    return false
  ]])
  local started = vim.uv.hrtime()
  ed:quit()
  local ok = vim.wait(H.timeout_ms, function()
    return #vim.tbl_filter(H.process_alive, pids) == 0
  end, 50)
  assert(ok, 'server still running after :qa! during generation: ' .. vim.inspect(pids))
  io.stdout:write(('quit during generation: server gone %.0f ms after :qa!\n'):format((vim.uv.hrtime() - started) / 1e6))
end)
