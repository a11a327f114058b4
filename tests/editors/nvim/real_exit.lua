--- Quitting Neovim while infill-ls is starting (model still loading) leaves no server process behind.
--- (Quitting during generation is checked at the end of real_complete.lua, which has a loaded model.)
local H = dofile(vim.fs.joinpath(vim.fs.dirname(arg[0]), 'harness.lua'))

--- All descendants of a process.
local function descendants(pid)
  local found = {}
  for _, child in ipairs(vim.api.nvim_get_proc_children(pid)) do
    found[#found + 1] = child
    vim.list_extend(found, descendants(child))
  end
  return found
end

local function quit_and_expect_no_server(ed, what)
  local pids = descendants(ed:lua('return vim.fn.getpid()'))
  assert(#pids > 0, what .. ': no server process found')
  local started = vim.uv.hrtime()
  ed:quit()
  local alive
  local ok = vim.wait(H.timeout_ms, function()
    alive = vim.tbl_filter(H.process_alive, pids)
    return #alive == 0
  end, 50)
  assert(ok, ('%s: server processes still running after :qa!: %s'):format(what, vim.inspect(alive)))
  io.stdout:write(('%s: server gone %.0f ms after :qa!\n'):format(what, (vim.uv.hrtime() - started) / 1e6))
end

H.run(function()
  local loading = H.editor({})
  loading:open('a.py', { 'x = 1' })
  H.eq(true, vim.tbl_contains({ 'starting', 'loading', 'ready' }, loading:lua("return require('infill').state().state")), 'state')
  quit_and_expect_no_server(loading, 'quit during start-up')

end)
