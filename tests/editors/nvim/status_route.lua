--- The route of the active buffer: the plugin sends `textDocument/didFocus` on BufEnter (and when the server
--- attaches to the current buffer), once per buffer change, never for buffers the server does not serve;
--- the fake server answers each with an `infill/status` whose route is that buffer's (its URI unquoted).
--- What state(), the statusline and `:Infill status` show, and that a route for another buffer is not
--- shown as this one's.
local H = dofile(vim.fs.joinpath(vim.fs.dirname(arg[0]), 'harness.lua'))

--- The URIs the fake server was told are focused, in order.
local function focuses(ed)
  return ed:lua("return vim.lsp.get_clients({ name = 'infill_ls' })[1]:request_sync('fake/focuses', vim.empty_dict(), 5000).result")
end

--- The cursor each didFocus carried, { line, character } (0-based, the client's encoding).
local function focus_positions(ed)
  return ed:lua("return vim.lsp.get_clients({ name = 'infill_ls' })[1]:request_sync('fake/focus_positions', vim.empty_dict(), 5000).result")
end

--- Waits until the status route is about the current buffer and has `target`; returns the state.
local function wait_route(ed, target)
  return ed:wait('the route ' .. target .. ' of the current buffer', [[
    local s = require('infill').state()
    return s.route and s.route.target == ... and s
  ]], nil, target)
end

H.run(function()
  local ed = H.editor({})
  ed:lua([[
    _G.test_notified = {}
    vim.notify = function(msg, level) table.insert(_G.test_notified, { msg = msg, level = level }) end
  ]])

  -- The first buffer: didFocus is sent once the server is attached (BufEnter came before it was).
  local main = ed:open('my main.py', { 'print(1)' })
  local main_uri = ed:lua('return vim.uri_from_bufnr(0)')
  H.contains(main_uri, 'my%20main.py', 'Neovim percent-encodes the URI')
  local state = wait_route(ed, 'remote')
  H.eq(vim.uri_decode(main_uri), state.route.uri, 'the fake echoes the URI unquoted')
  H.eq('remote: fake-coder via openai, local fallback', state.route.text, 'route text')
  H.eq('infill: ready (remote)', ed:lua("return require('infill').status()"), 'statusline, remote')
  H.eq({ main_uri }, focuses(ed), 'one didFocus for the first buffer')
  ed:lua('vim.api.nvim_win_set_cursor(0, { 1, 6 })')  -- on the "1" of print(1): where it is on coming back

  -- A local-only buffer: BufEnter sends didFocus, the route says why it stays local.
  ed:open('secret_keys.py', { 'KEY = 1' })
  local secret_uri = ed:lua('return vim.uri_from_bufnr(0)')
  state = wait_route(ed, 'local')
  H.eq('matches *secret*', state.route.reason, 'route reason')
  H.eq('infill: ready (local only)', ed:lua("return require('infill').status()"), 'statusline, local only')
  ed:lua("_G.test_notified = {}; vim.cmd('Infill status')")
  local notified = ed:lua('return _G.test_notified')
  H.contains(notified[1].msg, '\nthis file: local only: matches *secret*', ':Infill status')
  H.eq(vim.NIL, notified[1].level or vim.NIL, ':Infill status level without warnings')

  -- The route is the secret buffer's now: asked about the other buffer, there is none to show.
  local main_buf = ed:lua('return vim.fn.bufnr(...)', main)
  H.eq(vim.NIL, ed:lua('return require("infill").state(...).route or vim.NIL', main_buf), "another buffer's route")
  H.eq('infill: ready', ed:lua("return require('infill.status').statusline(...)", main_buf), 'its statusline')

  -- A buffer the server does not serve: no didFocus.
  ed:lua('vim.cmd.edit(...)', H.tmp .. '/notes.txt')
  H.eq(0, ed:lua("return #vim.lsp.get_clients({ name = 'infill_ls', bufnr = 0 })"), 'no client for notes.txt')

  -- Back to the first buffer: focused again (the server's last one was the secret file).
  ed:lua('vim.cmd.buffer(...)', main_buf)
  state = wait_route(ed, 'remote')
  H.eq({ main_uri, secret_uri, main_uri }, focuses(ed), 'didFocus per buffer change, none for notes.txt')
  H.eq({ { 0, 0 }, { 0, 0 }, { 0, 6 } }, focus_positions(ed), 'each didFocus says where the cursor is')

  -- Entering the same buffer in another window sends nothing new; a warning joins the route.
  ed:lua('vim.cmd.split()')
  ed:lua("vim.cmd.wincmd('p')")
  H.eq({ main_uri, secret_uri, main_uri }, focuses(ed), 'no didFocus for the buffer the server has')
  ed:lua(
    "vim.lsp.get_clients({ name = 'infill_ls' })[1]:notify('fake/status', { json = ... })",
    vim.json.encode({
      state = 'ready',
      message = 'warned',
      model = 'fake-model',
      warnings = { 'slow' },
      route = { uri = main_uri, target = 'remote', reason = '', text = 'remote: x' },
    })
  )
  ed:wait('the warned status', "return require('infill').state().message == 'warned'")
  H.eq('infill: ready (remote, 1 warning)', ed:lua("return require('infill').status()"), 'statusline, route and warning')

  -- A malformed route is no route.
  ed:lua(
    "vim.lsp.get_clients({ name = 'infill_ls' })[1]:notify('fake/status', { json = ... })",
    '{"state": "ready", "message": "junk route", "model": null, "route": {"uri": 3, "target": "cloud"}}'
  )
  state = ed:wait('the junk route status', "return require('infill').state().message == 'junk route' and require('infill').state()")
  H.eq(nil, state.route, 'malformed route')
  H.eq('infill: ready', ed:lua("return require('infill').status()"), 'statusline without a route')
  ed:quit()
end)
