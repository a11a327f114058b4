--- End to end with the real infill-ls: a syntax error is reported as a diagnostic, and its fix,
--- offered as a code action, is applied with the stock `vim.lsp.buf.code_action()`.
local H = dofile(vim.fs.joinpath(vim.fs.dirname(arg[0]), 'harness.lua'))

H.run(function()
  local ed = H.editor({})
  ed:open('broken.py', { 'def add(a, b)', '    return a + b' })
  assert(
    ed:lua("return vim.lsp.get_clients({ name = 'infill_ls' })[1].server_capabilities.codeActionProvider ~= nil"),
    'the server does not offer code actions (codeActionProvider missing)'
  )
  local diagnostics = ed:wait('a syntax diagnostic from infill-ls', [[
    local client = vim.lsp.get_clients({ name = 'infill_ls', bufnr = 0 })[1]
    local found = vim.diagnostic.get(0, { namespace = vim.lsp.diagnostic.get_namespace(client.id) })
    if #found == 0 then
      -- Servers may publish (push) or answer textDocument/diagnostic (pull); look at both namespaces.
      found = vim.diagnostic.get(0, { namespace = vim.lsp.diagnostic.get_namespace(client.id, true) })
    end
    return #found > 0 and vim.tbl_map(function(d) return { lnum = d.lnum, message = d.message } end, found)
  ]])
  H.eq(0, diagnostics[1].lnum, 'diagnostic line')

  -- The stock code action UI with `apply = true` applies a single quickfix without asking; should
  -- the server offer several, pick the first (the server ranks the smallest verified edit first).
  ed:lua([[
    vim.ui.select = function(items, _, on_choice) on_choice(items[1], 1) end
    vim.api.nvim_win_set_cursor(0, { 1, 12 })
    vim.lsp.buf.code_action({ context = { only = { 'quickfix' } }, apply = true })
  ]])
  ed:wait('the fix in the buffer', [[
    return vim.deep_equal(vim.api.nvim_buf_get_lines(0, 0, -1, false), { 'def add(a, b):', '    return a + b' })
  ]])
  ed:wait('the diagnostic to clear', 'return #vim.diagnostic.get(0) == 0')
  ed:quit()
end)
