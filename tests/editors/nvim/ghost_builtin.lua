--- Neovim 0.12's own inline completion UI, enabled by setup() for infill-ls buffers, against the
--- scripted fake server: the suggestion is shown, <Tab> accepts it, and without one <Tab> does what
--- it was mapped to before.
local H = dofile(vim.fs.joinpath(vim.fs.dirname(arg[0]), 'harness.lua'))

H.run(function()
  local ed = H.editor({})
  if not ed:lua('return vim.lsp.inline_completion ~= nil') then
    io.stdout:write('skip: this Neovim has no vim.lsp.inline_completion\n')
    ed:quit()
    return
  end
  H.eq('builtin', ed:lua("return require('infill').backend()"), 'backend')
  -- A plain <Tab> mapping from elsewhere: used when no suggestion is shown.
  ed:lua("vim.keymap.set('i', '<Tab>', '<C-v>u00bb')")
  ed:open('add.py', { 'def add(a, b):', '    return ' })
  H.eq(true, ed:lua('return vim.lsp.inline_completion.is_enabled({ bufnr = 0 })'), 'enabled for the buffer')

  ed:input('GA')
  ed:wait('builtin ghost text', "return #vim.api.nvim_buf_get_extmarks(0, vim.api.nvim_get_namespaces()['nvim.lsp.inline_completion'] or -1, 0, -1, {}) > 0")
  H.eq('a + b\n# done', ed:ghost_text('nvim.lsp.inline_completion'), 'ghost text')

  ed:input('<Tab>')
  ed:wait('the accepted text', 'return vim.api.nvim_buf_line_count(0) == 3')
  H.eq({ 'def add(a, b):', '    return a + b', '# done' }, ed:lines(), 'buffer after accept')

  ed:input('<Tab>')
  ed:wait('the previous <Tab> mapping', "return vim.api.nvim_get_current_line() == '# done»'")

  -- <C-]> hides a suggestion without leaving insert mode.
  local has_ghost = "return #vim.api.nvim_buf_get_extmarks(0, vim.api.nvim_get_namespaces()"
    .. "['nvim.lsp.inline_completion'], 0, -1, {}) > 0"
  ed:input('<CR>return ')
  ed:wait('ghost text on the new line', has_ghost)
  H.eq(true, ed:lua("return require('infill').visible()"), 'visible()')
  ed:input('<C-]>')
  ed:wait('ghost text to go', 'return not (' .. has_ghost:gsub('^return ', '') .. ')')
  H.eq('return ', vim.trim(ed:lua('return vim.api.nvim_get_current_line()')) .. ' ', 'line after <C-]>')
  H.eq('i', ed:lua('return vim.api.nvim_get_mode().mode'), 'mode after <C-]>')

  -- :Infill disable turns the automatic requests off for the buffer.
  ed:lua('vim.cmd("Infill disable")')
  H.eq(false, ed:lua('return vim.lsp.inline_completion.is_enabled({ bufnr = 0 })'), 'enabled after :Infill disable')
  ed:quit()
end)
