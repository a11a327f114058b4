--- Several suggestions from one answer, against the scripted fake server ("pick " gets three items):
--- <M-]> / <M-[> cycle them in both UIs and <Tab> accepts the one shown; in the extmark UI, typing
--- along keeps the one shown while it fits and moves to another that does when it stops fitting.
local H = dofile(vim.fs.joinpath(vim.fs.dirname(arg[0]), 'harness.lua'))

local function cycle_extmark()
  local ed = H.editor({ ghost_text = 'extmark', debounce_ms = 30 })
  ed:open('pick.py', { 'value = pick ' })
  ed:input('A')
  ed:wait('ghost text', "return require('infill.ghost').visible(0)")
  H.eq('one(1)', ed:ghost_text('infill.ghost'), 'first item')
  local shown = "return require('infill.ghost').current(0).text == ..."
  ed:input('<M-]>')
  ed:wait('the second item', shown, nil, 'two(2)')
  ed:input('<M-]>')
  ed:wait('the third item', shown, nil, 'three(3)')
  ed:input('<M-]>')
  ed:wait('back to the first item', shown, nil, 'one(1)')
  ed:input('<M-[>')
  ed:wait('the last item, backwards', shown, nil, 'three(3)')
  H.eq('three(3)', ed:ghost_text('infill.ghost'), 'ghost text of the third item')

  -- Typing along the selected item keeps it, without a new request.
  local requests = ed:lua('return #_G.test_notifications')
  ed:input('t')
  ed:wait('typed along', "return vim.api.nvim_get_current_line() == 'value = pick t'")
  H.eq('hree(3)', ed:ghost_text('infill.ghost'), 'the third item typed along')
  -- It stops fitting; the second item still does, and is shown.
  ed:input('w')
  ed:wait('typed into the second item', "return vim.api.nvim_get_current_line() == 'value = pick tw'")
  H.eq('o(2)', ed:ghost_text('infill.ghost'), 'the second item typed along')
  ed:input('<M-]>')
  H.eq('o(2)', ed:ghost_text('infill.ghost'), 'the items that stopped fitting are gone')
  H.eq(requests, ed:lua('return #_G.test_notifications'), 'requests while typing along')

  ed:input('<Tab>')
  ed:wait('the accepted item', "return vim.api.nvim_get_current_line() == 'value = pick two(2)'")
  ed:quit()
end

local function cycle_builtin()
  local ed = H.editor({})
  if not ed:lua('return vim.lsp.inline_completion ~= nil') then
    io.stdout:write('skip builtin: this Neovim has no vim.lsp.inline_completion\n')
    ed:quit()
    return
  end
  ed:open('pick.py', { 'value = pick ' })
  ed:input('A')
  local ns = "vim.api.nvim_get_namespaces()['nvim.lsp.inline_completion'] or -1"
  ed:wait('builtin ghost text', 'return #vim.api.nvim_buf_get_extmarks(0, ' .. ns .. ', 0, -1, {}) > 0')
  H.eq('one(1)', ed:ghost_text('nvim.lsp.inline_completion'), 'first item')
  local first_chunk = [[
    local ns = vim.api.nvim_get_namespaces()['nvim.lsp.inline_completion']
    local marks = vim.api.nvim_buf_get_extmarks(0, ns, 0, -1, { details = true })
    return #marks > 0 and marks[1][4].virt_text[1][1] == ...
  ]]
  ed:input('<M-]>')
  ed:wait('the second item', first_chunk, nil, 'two(2)')
  -- The builtin UI shows which item of how many it is.
  H.eq('two(2) (2/3)', ed:ghost_text('nvim.lsp.inline_completion'), 'second item with its index')
  ed:input('<M-[><M-[>')
  ed:wait('the third item, backwards', first_chunk, nil, 'three(3)')
  ed:input('<Tab>')
  ed:wait('the accepted item', "return vim.api.nvim_get_current_line() == 'value = pick three(3)'")
  ed:quit()
end

H.run(function()
  cycle_extmark()
  cycle_builtin()
end)
