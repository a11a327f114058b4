--- Ghost text for Neovim < 0.12 (or `ghost_text = 'extmark'`): asks the server for
--- `textDocument/inlineCompletion` while typing (debounced, asynchronous) and draws the suggestion
--- with extmarks: inline virtual text on the cursor line and virtual lines below for the rest.
---
--- Every request is tagged with the buffer's changedtick and cursor; an answer that arrives after the
--- user moved on is dropped, so a slow model can never put stale text on screen or block typing.

local api = vim.api
local uv = vim.uv or vim.loop

local M = {}

M.namespace = api.nvim_create_namespace('infill.ghost')

local HAS_011 = vim.fn.has('nvim-0.11') == 1
local TRIGGER_INVOKED = 1
local TRIGGER_AUTOMATIC = 2

---@class infill.ghost.Suggestion
---@field client_id integer
---@field text string Text that replaces `range`.
---@field range { start_row: integer, start_col: integer, end_row: integer, end_col: integer } 0-based, byte columns.
---@field command lsp.Command?

---@class infill.ghost.BufState
---@field client_id integer
---@field timer uv.uv_timer_t?
---@field request_id integer? Pending request on `client_id`.
---@field generation integer Bumped on every edit/move; answers for older generations are dropped.
---@field position string? changedtick:row:col the last refresh saw.
---@field items infill.ghost.Suggestion[]?
---@field index integer
---@field enabled boolean

---@type table<integer, infill.ghost.BufState>
local buffers = {}

--- Options shared with `require('infill').setup()`.
M.options = { debounce_ms = 150, hl_group = 'InfillGhostText', auto_trigger = true }

--- Calls a client method with the calling convention of the running Neovim (0.11 made them methods).
---@param client vim.lsp.Client
---@param method string
local function client_call(client, method, ...)
  if HAS_011 then
    return client[method](client, ...)
  end
  return client[method](...)
end

--- Byte column of an LSP character offset on one line, for any position encoding.
---@param line string
---@param character integer
---@param encoding string
---@return integer
local function byte_col(line, character, encoding)
  if encoding == 'utf-8' then
    return math.min(character, #line)
  end
  local ok, col
  if HAS_011 then
    ok, col = pcall(vim.str_byteindex, line, encoding, character, false)
  else
    ok, col = pcall(vim.str_byteindex, line, character, encoding == 'utf-16')
  end
  return ok and col or #line
end

---@param bufnr integer
---@param row integer
---@return string
local function buf_line(bufnr, row)
  return api.nvim_buf_get_lines(bufnr, row, row + 1, false)[1] or ''
end

---@param text string|{ value: string }
---@return string
local function plain_text(text)
  if type(text) == 'string' then
    return text
  end
  -- A snippet: show and insert its text without the tab stops.
  local value = type(text) == 'table' and text.value or ''
  return (value:gsub('%$%d+', ''):gsub('%${%d+:([^}]*)}', '%1'))
end

--- Converts one LSP InlineCompletionItem to buffer coordinates; items without text are skipped.
---@param bufnr integer
---@param client vim.lsp.Client
---@param item table
---@param cursor integer[] {row (0-based), col (bytes)}
---@return infill.ghost.Suggestion?
local function to_suggestion(bufnr, client, item, cursor)
  local text = plain_text(item.insertText)
  if text == '' then
    return nil
  end
  local range = { start_row = cursor[1], start_col = cursor[2], end_row = cursor[1], end_col = cursor[2] }
  if type(item.range) == 'table' then
    local enc = client.offset_encoding or 'utf-16'
    local s, e = item.range.start, item.range['end']
    range = {
      start_row = s.line,
      start_col = byte_col(buf_line(bufnr, s.line), s.character, enc),
      end_row = e.line,
      end_col = byte_col(buf_line(bufnr, e.line), e.character, enc),
    }
  end
  return { client_id = client.id, text = text, range = range, command = item.command }
end

---@param bufnr integer
---@return integer[] {row (0-based), col (bytes)}
local function cursor_of(bufnr)
  local win = vim.fn.bufwinid(bufnr)
  local pos = api.nvim_win_get_cursor(win ~= -1 and win or 0)
  return { pos[1] - 1, pos[2] }
end

--- The part of a suggestion still to be typed at the cursor: the suggestion minus what the buffer
--- already holds between the replaced range's start and the cursor. nil when the buffer diverged.
---@param bufnr integer
---@param s infill.ghost.Suggestion
---@param cursor integer[]
---@return string?
local function remaining_text(bufnr, s, cursor)
  local r = s.range
  if cursor[1] < r.start_row or (cursor[1] == r.start_row and cursor[2] < r.start_col) then
    return nil
  end
  local typed = table.concat(api.nvim_buf_get_text(bufnr, r.start_row, r.start_col, cursor[1], cursor[2], {}), '\n')
  if s.text:sub(1, #typed) ~= typed then
    return nil
  end
  return s.text:sub(#typed + 1)
end

--- Virtual text shows a tab as a single cell; spaces keep the suggestion's indentation visible.
---@param line string
---@param bufnr integer
---@return string
local function expand_tabs(line, bufnr)
  return (line:gsub('\t', string.rep(' ', vim.bo[bufnr].tabstop)))
end

--- Draws `text` as ghost text at the cursor. Returns false when there is nothing to draw.
---@param bufnr integer
---@param text string
---@param cursor integer[]
---@return boolean
local function draw(bufnr, text, cursor)
  api.nvim_buf_clear_namespace(bufnr, M.namespace, 0, -1)
  if text == '' then
    return false
  end
  local hl = M.options.hl_group
  local lines = vim.split(text, '\n', { plain = true })
  local virt_lines = {}
  for i = 2, #lines do
    virt_lines[#virt_lines + 1] = { { expand_tabs(lines[i], bufnr), hl } }
  end
  local mark = { hl_mode = 'combine', right_gravity = false }
  if lines[1] ~= '' then
    mark.virt_text = { { expand_tabs(lines[1], bufnr), hl } }
    mark.virt_text_pos = 'inline'
  end
  if #virt_lines > 0 then
    mark.virt_lines = virt_lines
  end
  api.nvim_buf_set_extmark(bufnr, M.namespace, cursor[1], cursor[2], mark)
  return true
end

--- Shows the selected item of the buffer if it still fits the text at the cursor, else the first
--- item that does (the user typed into another one); items that no longer fit are dropped.
---@param bufnr integer
---@return boolean shown
local function render(bufnr)
  local st = buffers[bufnr]
  if not (st and st.items and st.items[st.index]) then
    api.nvim_buf_clear_namespace(bufnr, M.namespace, 0, -1)
    return false
  end
  local cursor = cursor_of(bufnr)
  local kept, rests, index = {}, {}, 1
  for i, s in ipairs(st.items) do
    local rest = remaining_text(bufnr, s, cursor)
    if rest and rest ~= '' then
      kept[#kept + 1], rests[#kept + 1] = s, rest
      if i == st.index then
        index = #kept
      end
    end
  end
  if #kept == 0 then
    st.items = nil
    api.nvim_buf_clear_namespace(bufnr, M.namespace, 0, -1)
    return false
  end
  st.items, st.index = kept, index
  return draw(bufnr, rests[index], cursor)
end

---@param st infill.ghost.BufState
local function stop_timer(st)
  local timer = st.timer
  st.timer = nil
  if timer and not timer:is_closing() then
    timer:stop()
    timer:close()
  end
end

---@param st infill.ghost.BufState
local function cancel_request(st)
  local id = st.request_id
  st.request_id = nil
  if not id then
    return
  end
  local client = vim.lsp.get_client_by_id(st.client_id)
  if client then
    pcall(client_call, client, 'cancel_request', id)
  end
end

--- Hides the suggestion and forgets pending work for the buffer.
---@param bufnr integer?
function M.dismiss(bufnr)
  bufnr = (bufnr == nil or bufnr == 0) and api.nvim_get_current_buf() or bufnr
  local st = buffers[bufnr]
  if st then
    st.generation = st.generation + 1
    st.items = nil
    stop_timer(st)
    cancel_request(st)
  end
  if api.nvim_buf_is_valid(bufnr) then
    api.nvim_buf_clear_namespace(bufnr, M.namespace, 0, -1)
  end
end

--- Whether a suggestion is on screen in the buffer.
---@param bufnr integer?
---@return boolean
function M.visible(bufnr)
  bufnr = (bufnr == nil or bufnr == 0) and api.nvim_get_current_buf() or bufnr
  local st = buffers[bufnr]
  return st ~= nil and st.items ~= nil and st.items[st.index] ~= nil
end

--- The suggestion on screen (text replacing its range), for tests and custom UIs.
---@param bufnr integer?
---@return infill.ghost.Suggestion?
function M.current(bufnr)
  bufnr = (bufnr == nil or bufnr == 0) and api.nvim_get_current_buf() or bufnr
  local st = buffers[bufnr]
  return st and st.items and st.items[st.index] or nil
end

--- Sends `textDocument/inlineCompletion` for the cursor; the answer is drawn only if nothing moved.
---@param bufnr integer
---@param trigger_kind integer
local function request(bufnr, trigger_kind)
  local st = buffers[bufnr]
  local client = st and vim.lsp.get_client_by_id(st.client_id)
  if not st or not client or not api.nvim_buf_is_valid(bufnr) or api.nvim_get_current_buf() ~= bufnr then
    return
  end
  cancel_request(st)
  local generation = st.generation
  local win = api.nvim_get_current_win()
  local params = vim.lsp.util.make_position_params(win, client.offset_encoding)
  params.context = { triggerKind = trigger_kind }
  local cursor = cursor_of(bufnr)
  local ok, request_id = client_call(client, 'request', 'textDocument/inlineCompletion', params, function(err, result)
    if st.generation ~= generation or not api.nvim_buf_is_valid(bufnr) then
      return
    end
    st.request_id = nil
    if err or type(result) ~= 'table' then
      return
    end
    local items = {}
    for _, item in ipairs(result.items or result) do
      local s = to_suggestion(bufnr, client, item, cursor)
      if s then
        items[#items + 1] = s
      end
    end
    if #items == 0 or not vim.startswith(api.nvim_get_mode().mode, 'i') then
      return
    end
    st.items, st.index = items, 1
    render(bufnr)
  end, bufnr)
  if ok then
    st.request_id = request_id
  end
end

--- Called on every edit and cursor move in insert mode: keeps a suggestion the user is typing
--- along with, otherwise hides it and (re)starts the debounce timer for a new request.
---@param bufnr integer
local function on_move(bufnr)
  local st = buffers[bufnr]
  if not st then
    return
  end
  local cursor = cursor_of(bufnr)
  local position = ('%d:%d:%d'):format(api.nvim_buf_get_changedtick(bufnr), cursor[1], cursor[2])
  if position == st.position then
    return
  end
  st.position = position
  if st.items and render(bufnr) then
    return
  end
  M.dismiss(bufnr)
  if not st.enabled or not M.options.auto_trigger then
    return
  end
  local timer = assert(uv.new_timer())
  st.timer = timer
  local generation = st.generation
  timer:start(M.options.debounce_ms, 0, function()
    vim.schedule(function()
      if st.timer == timer then
        stop_timer(st)
      end
      if st.generation == generation and vim.startswith(api.nvim_get_mode().mode, 'i') then
        request(bufnr, TRIGGER_AUTOMATIC)
      end
    end)
  end)
end

--- Asks for a suggestion now (also outside the automatic trigger, e.g. from a keymap).
---@param bufnr integer?
function M.trigger(bufnr)
  bufnr = (bufnr == nil or bufnr == 0) and api.nvim_get_current_buf() or bufnr
  if buffers[bufnr] then
    M.dismiss(bufnr)
    request(bufnr, TRIGGER_INVOKED)
  end
end

--- Inserts the suggestion on screen; returns false (changing nothing) when there is none.
--- Must run outside textlock: call it from a `<Cmd>` mapping or `vim.schedule`, not an expr mapping.
---@param bufnr integer?
---@return boolean
function M.accept(bufnr)
  bufnr = (bufnr == nil or bufnr == 0) and api.nvim_get_current_buf() or bufnr
  local s = M.current(bufnr)
  if not s then
    return false
  end
  M.dismiss(bufnr)
  local r = vim.deepcopy(s.range)
  -- Characters typed along with the suggestion since it arrived are part of what it replaces.
  local cursor = cursor_of(bufnr)
  if cursor[1] > r.end_row or (cursor[1] == r.end_row and cursor[2] > r.end_col) then
    r.end_row, r.end_col = cursor[1], cursor[2]
  end
  local lines = vim.split(s.text, '\n', { plain = true })
  api.nvim_buf_set_text(bufnr, r.start_row, r.start_col, r.end_row, r.end_col, lines)
  local end_row = r.start_row + #lines - 1
  local end_col = (#lines == 1 and r.start_col or 0) + #lines[#lines]
  local win = vim.fn.bufwinid(bufnr)
  if win ~= -1 then
    api.nvim_win_set_cursor(win, { end_row + 1, end_col })
  end
  local client = s.command and vim.lsp.get_client_by_id(s.client_id)
  if client and s.command then
    if HAS_011 then
      client:exec_cmd(s.command, { bufnr = bufnr })
    else
      client.request('workspace/executeCommand', s.command, nil, bufnr)
    end
  end
  return true
end

--- Shows the next (`count` > 0) or previous suggestion of the last answer.
---@param count integer
---@param bufnr integer?
function M.select(count, bufnr)
  bufnr = (bufnr == nil or bufnr == 0) and api.nvim_get_current_buf() or bufnr
  local st = buffers[bufnr]
  if st and st.items and #st.items > 0 then
    st.index = (st.index - 1 + count) % #st.items + 1
    render(bufnr)
  end
end

--- Turns automatic requests on or off for the buffer (manual `trigger()` keeps working).
---@param bufnr integer?
---@param enabled boolean
function M.set_enabled(bufnr, enabled)
  bufnr = (bufnr == nil or bufnr == 0) and api.nvim_get_current_buf() or bufnr
  local st = buffers[bufnr]
  if st then
    st.enabled = enabled
    if not enabled then
      M.dismiss(bufnr)
    end
  end
end

---@param bufnr integer
---@return boolean?
function M.is_enabled(bufnr)
  local st = buffers[bufnr]
  return st and st.enabled
end

--- Starts ghost text for a buffer served by `client_id` (idempotent).
---@param bufnr integer
---@param client_id integer
function M.attach(bufnr, client_id)
  if buffers[bufnr] then
    buffers[bufnr].client_id = client_id
    return
  end
  buffers[bufnr] = { client_id = client_id, generation = 0, index = 1, enabled = true }
  local group = api.nvim_create_augroup('infill.ghost.' .. bufnr, { clear = true })
  api.nvim_create_autocmd({ 'TextChangedI', 'CursorMovedI', 'InsertEnter' }, {
    group = group,
    buffer = bufnr,
    callback = function()
      on_move(bufnr)
    end,
  })
  api.nvim_create_autocmd({ 'InsertLeave', 'BufLeave' }, {
    group = group,
    buffer = bufnr,
    callback = function()
      local st = buffers[bufnr]
      if st then
        st.position = nil
      end
      M.dismiss(bufnr)
    end,
  })
  api.nvim_create_autocmd('BufUnload', {
    group = group,
    buffer = bufnr,
    callback = function()
      M.detach(bufnr)
    end,
  })
end

--- Stops ghost text for the buffer and drops its state.
---@param bufnr integer
function M.detach(bufnr)
  if not buffers[bufnr] then
    return
  end
  M.dismiss(bufnr)
  buffers[bufnr] = nil
  pcall(api.nvim_del_augroup_by_name, 'infill.ghost.' .. bufnr)
end

---@param bufnr integer
---@return boolean
function M.is_attached(bufnr)
  return buffers[bufnr] ~= nil
end

return M
