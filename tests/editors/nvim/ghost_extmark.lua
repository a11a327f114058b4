--- Extmark ghost text (the Neovim < 0.12 path, forced with ghost_text = 'extmark') against the
--- scripted fake server: shown while typing, kept while typing along, accepted with <Tab>,
--- dismissed on <Esc>; the editor keeps working while the server sits on a request.
local H = dofile(vim.fs.joinpath(vim.fs.dirname(arg[0]), 'harness.lua'))

H.run(function()
  local ed = H.editor({ ghost_text = 'extmark', debounce_ms = 30 })
  H.eq('extmark', ed:lua("return require('infill').backend()"), 'backend')
  -- A <Tab> mapping from elsewhere (say a completion plugin): used when no suggestion is shown.
  ed:lua([[
    _G.fallback_calls = 0
    vim.keymap.set('i', '<Tab>', function()
      _G.fallback_calls = _G.fallback_calls + 1
      return '<Tab>'
    end, { expr = true })
  ]])
  ed:open('add.py', { 'def add(a, b):', '    return ' })

  -- The server's status notification reaches the statusline helper.
  ed:wait('the ready status', "return require('infill').status() == 'infill: ready'")
  H.eq('fake-model', ed:lua("return require('infill').state().model"), 'model')

  -- Typing at the end of `return ` shows the two-line suggestion as inline text + a virtual line.
  ed:input('GA')
  ed:wait('ghost text', "return require('infill.ghost').visible(0)")
  H.eq('a + b\n# done', ed:ghost_text('infill.ghost'), 'ghost text')

  -- Typing the suggestion's first characters keeps it (minus what was typed) without a new request.
  local requests = ed:lua('return #_G.test_notifications')
  ed:input('a ')
  ed:wait('the typed-ahead ghost text', "return vim.api.nvim_get_current_line() == '    return a '")
  H.eq('+ b\n# done', ed:ghost_text('infill.ghost'), 'ghost text after typing along')
  H.eq(requests, ed:lua('return #_G.test_notifications'), 'requests while typing along')

  -- <Tab> inserts the rest; the cursor ends after it.
  ed:input('<Tab>')
  ed:wait('the accepted text', "return vim.api.nvim_buf_line_count(0) == 3")
  H.eq({ 'def add(a, b):', '    return a + b', '# done' }, ed:lines(), 'buffer after accept')
  H.eq({ 3, 6 }, ed:lua('return vim.api.nvim_win_get_cursor(0)'), 'cursor after accept')
  H.eq(false, ed:lua("return require('infill.ghost').visible(0)"), 'visible after accept')

  H.eq(0, ed:lua('return _G.fallback_calls'), 'fallback calls while accepting')

  -- Without a suggestion <Tab> runs the previous mapping, here a <Tab> (python's ftplugin: spaces
  -- to 'softtabstop').
  ed:input('<Tab>')
  ed:wait('the previous <Tab> mapping', "return vim.api.nvim_get_current_line() == '# done  '")
  H.eq(1, ed:lua('return _G.fallback_calls'), 'fallback calls')

  -- <Esc> hides a suggestion and leaves the buffer alone.
  ed:input('<CR>return ')
  ed:wait('ghost text on the new line', "return require('infill.ghost').visible(0)")
  ed:input('<Esc>')
  ed:wait('ghost text to go', "return not require('infill.ghost').visible(0)")
  H.eq(nil, ed:ghost_text('infill.ghost'), 'extmarks after <Esc>')
  H.eq('return ', ed:lua('return vim.api.nvim_get_current_line()'), 'line after <Esc>')

  -- While the server holds a request, typing goes on; moving on cancels it and shows nothing stale.
  ed:input('oslow')
  ed:wait('the slow request', [[
    local last = _G.test_notifications[#_G.test_notifications]
    return last and last.method == 'fake/requested' and vim.api.nvim_get_current_line() == 'slow'
  ]])
  ed:input(' and more')
  ed:wait('typing during a pending request', "return vim.api.nvim_get_current_line() == 'slow and more'")
  ed:wait(
    'the pending request to be cancelled',
    "return next(vim.lsp.get_clients({ name = 'infill_ls' })[1].requests) == nil"
  )
  ed:lua("vim.lsp.get_clients({ name = 'infill_ls' })[1]:notify('fake/release', {})")
  H.eq(false, ed:lua("return require('infill.ghost').visible(0)"), 'stale suggestion shown')
  ed:quit()
end)
