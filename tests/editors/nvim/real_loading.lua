--- While the real server loads its model, the editor keeps working and every request it sends is
--- answered: none may be lost or left hanging. Requests (cheap `textDocument/codeAction`s for a line with
--- no diagnostic) are sent every 20 ms from the moment the file opens until the model is ready. (Not
--- `textDocument/diagnostic`: Neovim's own pull diagnostics cancel every pending one for the buffer on an
--- edit, and a cancelled request's handler is never called.)
local H = dofile(vim.fs.joinpath(vim.fs.dirname(arg[0]), 'harness.lua'))

H.run(function()
  local ed = H.editor({})
  ed:open('loading.py', { 'x = [1, 2', 'y = 3' })
  ed:lua([[
    _G.sent, _G.answered = 0, 0
    local client = vim.lsp.get_clients({ name = 'infill_ls' })[1]
    local bufnr = vim.api.nvim_get_current_buf()
    local timer = assert(vim.uv.new_timer())
    timer:start(0, 20, vim.schedule_wrap(function()
      if require('infill').state().state == 'ready' or _G.sent >= 2000 then
        timer:stop()
        timer:close()
        _G.done_sending = true
        return
      end
      local params = {
        textDocument = { uri = vim.uri_from_bufnr(bufnr) },
        range = { start = { line = 1, character = 0 }, ['end'] = { line = 1, character = 0 } },
        context = { diagnostics = {} },
      }
      local ok = client:request('textDocument/codeAction', params, function()
        _G.answered = _G.answered + 1
      end, bufnr)
      if ok then
        _G.sent = _G.sent + 1
      end
    end))
  ]])
  -- Typing goes on meanwhile.
  ed:input('Go# typing while the model loads')
  ed:wait('typing during the load', "return vim.trim(vim.api.nvim_get_current_line()) == '# typing while the model loads'")
  ed:input('<Esc>')
  ed:wait('the model to load', "return _G.done_sending and require('infill').state().state == 'ready'")
  local sent = ed:lua('return _G.sent')
  assert(sent > 0, 'no request was sent while the model loaded')
  local ok = pcall(ed.wait, ed, 'answers', 'return _G.answered == _G.sent', 8000)
  local answered = ed:lua('return _G.answered')
  io.stdout:write(('requests during the model load: %d sent, %d answered\n'):format(sent, answered))
  assert(ok, ('%d of %d requests sent while the model loaded were never answered'):format(sent - answered, sent))
  ed:quit()
end)
