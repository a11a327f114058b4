--- End to end with the real infill-ls: a syntax error is reported as a diagnostic, and its fix,
--- offered as a code action, is applied with the stock `vim.lsp.buf.code_action()` from normal mode.
--- INFILL_CASE picks the error:
---   'bracket': an unclosed '[' with the cursor on it;
---   'eol':     a missing ':' at the end of a line, the cursor on the line's last character (where
---              normal mode puts it; the diagnostic itself sits just after that character).
local H = dofile(vim.fs.joinpath(vim.fs.dirname(arg[0]), 'harness.lua'))

local CASES = {
  bracket = {
    before = { 'x = [1, 2', 'y = 3' },
    cursor = { 1, 4 },
    after = { 'x = [1, 2]', 'y = 3' },
  },
  eol = {
    before = { 'def add(a, b)', '    return a + b' },
    cursor = { 1, 12 },
    after = { 'def add(a, b):', '    return a + b' },
  },
}

H.run(function()
  local case = assert(CASES[os.getenv('INFILL_CASE') or 'bracket'], 'unknown INFILL_CASE')
  -- Syntax fixes need no model: point the server at a missing one (it reports the error and keeps its
  -- syntax features) and use rule-based fixes only, so the offered fix is always the same.
  local ed = H.editor({
    settings = { model = { path = H.tmp .. '/missing.gguf' }, diagnostics = { modelFixes = false } },
  })
  ed:open('warm_up.py', { 'pass' })
  ed:wait('the model error', "return require('infill').state().state == 'error'")
  H.eq('infill: error', ed:lua("return require('infill').status()"), 'statusline')
  ed:open('broken.py', case.before)
  assert(
    ed:lua("return vim.lsp.get_clients({ name = 'infill_ls' })[1].server_capabilities.codeActionProvider ~= nil"),
    'the server does not offer code actions (codeActionProvider missing)'
  )
  local diagnostics = ed:wait('a syntax diagnostic from infill-ls', [[
    local client = vim.lsp.get_clients({ name = 'infill_ls', bufnr = 0 })[1]
    -- Servers may push (publishDiagnostics) or answer pulls (textDocument/diagnostic): look at both.
    local found = vim.diagnostic.get(0, { namespace = vim.lsp.diagnostic.get_namespace(client.id, false) })
    vim.list_extend(found, vim.diagnostic.get(0, { namespace = vim.lsp.diagnostic.get_namespace(client.id, true) }))
    return #found > 0 and vim.tbl_map(function(d) return { lnum = d.lnum, message = d.message } end, found)
  ]])
  H.eq(case.cursor[1] - 1, diagnostics[1].lnum, 'diagnostic line')

  -- The stock code action UI with `apply = true` applies a single quickfix without asking; should
  -- the server offer several, pick the first (the server ranks the smallest verified edit first).
  ed:lua([[
    _G.offered = nil
    vim.ui.select = function(items, _, on_choice)
      _G.offered = #items
      on_choice(items[1], 1)
    end
    vim.api.nvim_win_set_cursor(0, ...)
    vim.lsp.buf.code_action({ context = { only = { 'quickfix' } }, apply = true })
  ]], case.cursor)
  local outcome = ed:wait('the fix in the buffer or a "no code actions" message', [[
    if vim.deep_equal(vim.api.nvim_buf_get_lines(0, 0, -1, false), ...) then return 'fixed' end
    local messages = vim.api.nvim_exec2('messages', { output = true }).output
    return messages:find('No code actions available', 1, true) and 'no code actions'
  ]], nil, case.after)
  H.eq('fixed', outcome, 'code action outcome')
  ed:wait('the diagnostic to clear', 'return #vim.diagnostic.get(0) == 0')
  ed:quit()
end)
