--- `infill/status` warnings (self-check findings while the model is ready), a worker crash/restart
--- ("loading" with the reason) and giving up ("error"): what state(), the statusline component,
--- `:Infill status` and `:checkhealth infill` show. The fake server relays each status it is sent.
local H = dofile(vim.fs.joinpath(vim.fs.dirname(arg[0]), 'harness.lua'))

local function occurrences(haystack, needle)
  local count, from = 0, 1
  while true do
    local at = haystack:find(needle, from, true)
    if not at then
      return count
    end
    count, from = count + 1, at + #needle
  end
end

--- Has the fake server send `json` (a JSON text) as `infill/status`, then waits until the client has it.
local function send_status(ed, json)
  local message = vim.json.decode(json).message
  ed:lua("vim.lsp.get_clients({ name = 'infill_ls' })[1]:notify('fake/status', { json = ... })", json)
  ed:wait(
    'the status ' .. json,
    "return require('infill').state().message == ... and require('infill').state()",
    nil,
    message
  )
  return ed:lua("return require('infill').state()")
end

local REUSE = 'prefix reuse does not work with llama-cpp-python 0.3.2: every request re-evaluates its whole prompt'
local CRASH = 'llama.cpp crashed in its CPU backend (signal 11, SIGSEGV) during a generation; restarting the model worker'

H.run(function()
  local ed = H.editor({})
  ed:lua([[
    _G.test_status_events = {}
    vim.api.nvim_create_autocmd('User', {
      pattern = 'InfillStatus',
      callback = function(args) table.insert(_G.test_status_events, args.data) end,
    })
    _G.test_notified = {}
    vim.notify = function(msg, level) table.insert(_G.test_notified, { msg = msg, level = level }) end
  ]])
  ed:open('main.py', { 'print(1)' })
  ed:wait('the ready status', "return require('infill').state().state == 'ready'")

  -- The fake server's first status has no `warnings` field (an older server): no warnings.
  local state = ed:lua("return require('infill').state()")
  H.eq({}, state.warnings, 'warnings when the field is absent')
  H.eq('infill: ready', ed:lua("return require('infill').status()"), 'statusline without warnings')
  local report = H.health_lines(ed)
  H.contains(report, 'model state: ready model: fake-model - fake model loaded', 'health')
  H.lacks(report, 'WARNING model:', 'health without warnings')

  -- Ready with two self-check warnings: the state keeps them, the statusline marks them, health warns
  -- about each (once: the server's " - warning: ..." summary is dropped from the message line).
  local warned = vim.json.encode({
    state = 'ready',
    message = 'fake-model (gemma3, 253 MB) - warning: ' .. REUSE .. '; second finding',
    model = 'fake-model',
    warnings = { REUSE, 'second finding' },
  })
  state = send_status(ed, warned)
  H.eq('ready', state.state, 'state with warnings')
  H.eq({ REUSE, 'second finding' }, state.warnings, 'warnings')
  H.eq('infill: ready (2 warnings)', ed:lua("return require('infill').status()"), 'statusline with warnings')
  local event = ed:wait('the InfillStatus autocmd', [[
    local last = _G.test_status_events[#_G.test_status_events]
    return last and #last.warnings == 2 and last
  ]])
  H.eq({ REUSE, 'second finding' }, event.warnings, 'InfillStatus data.warnings')
  report = H.health_lines(ed)
  H.contains(report, 'OK model state: ready model: fake-model - fake-model (gemma3, 253 MB)', 'health')
  H.contains(report, 'WARNING model: ' .. REUSE, 'health')
  H.contains(report, 'WARNING model: second finding', 'health')
  H.eq(1, occurrences(report, REUSE), 'the warning is reported once')
  H.eq(2, occurrences(report, 'WARNING model:'), 'one health warning per warning')
  H.lacks(report, ' - warning:', 'health message without the summary')

  -- `:Infill status` lists them too, as a warning.
  ed:lua("_G.test_notified = {}; vim.cmd('Infill status')")
  local notified = ed:lua('return _G.test_notified')
  H.eq(1, #notified, ':Infill status notifications')
  H.contains(notified[1].msg, 'infill: ready [fake-model] fake-model (gemma3, 253 MB)', ':Infill status')
  H.contains(notified[1].msg, '\nwarning: ' .. REUSE .. '\nwarning: second finding', ':Infill status')
  H.eq(vim.log.levels.WARN, notified[1].level, ':Infill status level')

  -- One warning: singular.
  state = send_status(ed, vim.json.encode({ state = 'ready', message = 'one', model = 'fake-model', warnings = { REUSE } }))
  H.eq('infill: ready (1 warning)', ed:lua("return require('infill').status()"), 'statusline with one warning')

  -- Malformed fields are no warnings; non-strings and blank strings are dropped.
  for i, junk in ipairs({ '"oops"', 'null', '7', '{"0": "a"}', 'true' }) do
    state = send_status(ed, ('{"state": "ready", "message": "junk %d", "model": null, "warnings": %s}'):format(i, junk))
    H.eq({}, state.warnings, 'warnings from ' .. junk)
    H.eq('infill: ready', ed:lua("return require('infill').status()"), 'statusline with junk warnings ' .. junk)
  end
  state = send_status(
    ed,
    '{"state": "ready", "message": "mixed", "model": null, "warnings": [1, "kept", {"a": 1}, null, ["x"], "  ", " trimmed "]}'
  )
  H.eq({ 'kept', 'trimmed' }, state.warnings, 'only the strings are kept')
  H.eq('infill: ready (2 warnings)', ed:lua("return require('infill').status()"), 'statusline with mixed warnings')

  -- A worker crash: "loading" with the reason, and no warnings; the statusline shows loading, health
  -- the reason.
  state = send_status(ed, vim.json.encode({ state = 'loading', message = CRASH, model = 'fake-model', warnings = {} }))
  H.eq('loading', state.state, 'state after a crash')
  H.eq('infill: loading', ed:lua("return require('infill').status()"), 'statusline after a crash')
  report = H.health_lines(ed)
  H.contains(report, 'model state: loading model: fake-model - ' .. CRASH, 'health after a crash')
  H.lacks(report, 'WARNING model:', 'health after a crash')

  -- Loading never shows the warning marker, even if a server sent warnings with it.
  send_status(ed, vim.json.encode({ state = 'loading', message = 'loading model', model = vim.NIL, warnings = { REUSE } }))
  H.eq('infill: loading', ed:lua("return require('infill').status()"), 'statusline while loading')

  -- Giving up: error.
  local gave_up = 'infill-ls: model unavailable: the model worker crashed 3 times; giving up'
  send_status(ed, vim.json.encode({ state = 'error', message = gave_up, model = vim.NIL, warnings = {} }))
  H.eq('infill: error', ed:lua("return require('infill').status()"), 'statusline after giving up')
  report = H.health_lines(ed)
  H.contains(report, 'ERROR model state: error - ' .. gave_up, 'health after giving up')

  -- A status that is not one at all is an error with no warnings.
  ed:lua("vim.lsp.get_clients({ name = 'infill_ls' })[1]:notify('fake/status', { json = '{\"state\": \"sleepy\", \"warnings\": [\"x\"]}' })")
  state = ed:wait('the malformed status', [[
    local s = require('infill').state()
    return s.message:find('malformed infill/status', 1, true) and s
  ]])
  H.eq('error', state.state, 'malformed status')
  H.eq({}, state.warnings, 'malformed status warnings')
  ed:quit()
end)
