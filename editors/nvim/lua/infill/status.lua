--- Model/server state reported by infill-ls through the `infill/status` notification, and the route of
--- the active document (where its content goes: the local model, the remote one, or none).
---
--- Kept per client so a statusline or `:checkhealth infill` can show whether the model is still
--- loading, ready, failed or switched off, without ever asking the server (which may be busy).
--- The plugin tells the server which buffer is active with `textDocument/didFocus` (see `focus()`), so
--- the route it reports is about the buffer the user is in.

local M = {}

---@alias infill.State 'loading'|'ready'|'error'|'disabled'|'starting'|'stopped'

---@class infill.Route
---@field uri string The document it is about.
---@field target 'local'|'remote'|'none' Only the local model sees it, the remote one may, or no model does.
---@field reason string Why it stays local (e.g. "matches .env*"); "" when nothing keeps it local.
---@field text string One line for people, e.g. "local only: matches .env*".

---@class infill.Status
---@field state infill.State
---@field message string
---@field model string?
---@field warnings string[] Self-check findings of a model that works, but worse than it should (state stays 'ready').
---@field route infill.Route? The route of the buffer asked about (nil: the server's route is another buffer's, or none).
---@field client_id integer?
---@field updated_at integer? Time of the last notification, from `vim.uv.now()`.

local KNOWN_STATES = { loading = true, ready = true, error = true, disabled = true }
local ROUTE_TARGETS = { ['local'] = true, remote = true, none = true }
local HAS_011 = vim.fn.has('nvim-0.11') == 1

---@type table<integer, infill.Status>
M.by_client = {}

--- The `warnings` field: its non-empty strings, in order; anything else (absent, null, not a list) is none.
---@param value any
---@return string[]
function M.parse_warnings(value)
  local warnings = {}
  if type(value) ~= 'table' then
    return warnings
  end
  for _, item in ipairs(value) do
    if type(item) == 'string' then
      local text = vim.trim(item)
      if text ~= '' then
        warnings[#warnings + 1] = text
      end
    end
  end
  return warnings
end

--- The `route` field: a table with a URI and a known target, else nil (absent, null or malformed).
---@param value any
---@return infill.Route?
function M.parse_route(value)
  if type(value) ~= 'table' or type(value.uri) ~= 'string' or value.uri == '' or not ROUTE_TARGETS[value.target] then
    return nil
  end
  return {
    uri = value.uri,
    target = value.target,
    reason = type(value.reason) == 'string' and vim.trim(value.reason) or '',
    text = type(value.text) == 'string' and vim.trim(value.text) or '',
  }
end

--- Whether two document URIs name the same document: the server may echo a URI unquoted where
--- Neovim percent-encodes (spaces, non-ASCII), so both are compared decoded.
---@param a string
---@param b string
---@return boolean
function M.same_document(a, b)
  return a == b or vim.uri_decode(a) == vim.uri_decode(b)
end

--- A short name of a route: "local", "local only" (kept local by the privacy settings), "remote", "none".
---@param route infill.Route
---@return string
function M.route_label(route)
  if route.target == 'local' then
    return route.reason ~= '' and 'local only' or 'local'
  end
  return route.target
end

--- The route in words, e.g. "local only: matches .env*".
---@param route infill.Route
---@return string
function M.route_text(route)
  local text = route.text ~= '' and route.text or M.route_label(route)
  if route.reason ~= '' and not text:find(route.reason, 1, true) then
    text = text .. ' (' .. route.reason .. ')'
  end
  return text
end

--- The status message without the " - warning: ..." summary the server appends when it also lists the
--- warnings (which are then shown on their own).
---@param status infill.Status
---@return string
function M.message(status)
  local message = status.message or ''
  if status.warnings and #status.warnings > 0 then
    local cut = message:lower():find('%s+%-%s+warnings?:')
    if cut then
      message = message:sub(1, cut - 1)
    end
  end
  return message
end

--- Records one `infill/status` notification; malformed params are reported as an error state.
---@param params any
---@param ctx { client_id: integer }
function M.on_notification(_, params, ctx)
  local status ---@type infill.Status
  if type(params) == 'table' and KNOWN_STATES[params.state] then
    local model = params.model
    status = {
      state = params.state,
      message = type(params.message) == 'string' and params.message or '',
      model = type(model) == 'string' and model or nil,
      warnings = M.parse_warnings(params.warnings),
      route = M.parse_route(params.route),
    }
  else
    status = {
      state = 'error',
      message = 'malformed infill/status: ' .. vim.inspect(params),
      model = nil,
      warnings = {},
    }
  end
  status.client_id = ctx.client_id
  status.updated_at = (vim.uv or vim.loop).now()
  M.by_client[ctx.client_id] = status
  vim.schedule(function()
    vim.api.nvim_exec_autocmds('User', { pattern = 'InfillStatus', modeline = false, data = status })
    vim.cmd.redrawstatus({ bang = true })
  end)
end

--- Running infill-ls clients (all buffers, or those attached to `bufnr`).
---@param bufnr integer?
---@return vim.lsp.Client[]
function M.clients(bufnr)
  return vim.lsp.get_clients({ name = 'infill_ls', bufnr = bufnr })
end

--- The status of the client serving `bufnr` (or any infill-ls client), derived when none was reported.
---@param bufnr integer?
---@return infill.Status
function M.get(bufnr)
  local clients = M.clients(bufnr)
  if #clients == 0 and bufnr then
    clients = M.clients(nil)
  end
  local client = clients[1]
  if not client then
    return { state = 'stopped', message = 'infill-ls is not running', model = nil, warnings = {} }
  end
  local reported = M.by_client[client.id]
  if reported then
    -- The route only while it is about this buffer: one for another buffer is stale.
    local route = reported.route
    if route and bufnr and not M.same_document(route.uri, vim.uri_from_bufnr(bufnr)) then
      route = nil
    end
    if route ~= reported.route then
      reported = vim.tbl_extend('force', {}, reported)
      reported.route = route
    end
    return reported
  end
  local initialized = client.initialized
  return {
    state = 'starting',
    message = initialized and 'waiting for the model status' or 'starting infill-ls',
    model = nil,
    warnings = {},
    client_id = client.id,
  }
end

--- Drops the state of clients that have exited, so the statusline does not show a dead server.
---@param client_id integer
function M.forget(client_id)
  M.by_client[client_id] = nil
  M.focused[client_id] = nil
end

--- The URI each client was last told is focused.
---@type table<integer, string>
M.focused = {}

--- Tells the infill-ls clients serving `bufnr` that it is the document the user is in now
--- (`textDocument/didFocus` with `{ textDocument = { uri } }`, as the Copilot language server takes it,
--- and infill-ls's `position`: the cursor, where the server warms up the suggestion), so the route in
--- their status is about it. Not sent again for the buffer a client already has.
---@param bufnr integer
function M.focus(bufnr)
  if not vim.api.nvim_buf_is_valid(bufnr) or vim.bo[bufnr].buftype ~= '' then
    return
  end
  local uri = vim.uri_from_bufnr(bufnr)
  local win = vim.api.nvim_get_current_buf() == bufnr and vim.api.nvim_get_current_win() or nil
  for _, client in ipairs(M.clients(bufnr)) do
    if M.focused[client.id] ~= uri and client.initialized then
      local params = { textDocument = { uri = uri } }
      if win ~= nil then
        params.position = vim.lsp.util.make_position_params(win, client.offset_encoding or 'utf-16').position
      end
      local sent
      if HAS_011 then
        sent = client:notify('textDocument/didFocus', params)
      else
        sent = client.notify('textDocument/didFocus', params)
      end
      if sent then
        M.focused[client.id] = uri
      end
    end
  end
end

local SYMBOLS = {
  loading = 'loading',
  ready = 'ready',
  error = 'error',
  disabled = 'off',
  starting = 'starting',
  stopped = 'stopped',
}

--- Short text for a statusline, e.g. `infill: ready`, `infill: ready (remote)`,
--- `infill: ready (local only, 1 warning)`; empty when no server runs for the buffer.
---@param bufnr integer?
---@return string
function M.statusline(bufnr)
  local status = M.get(bufnr)
  if status.state == 'stopped' then
    return ''
  end
  local text = 'infill: ' .. (SYMBOLS[status.state] or status.state)
  if status.state ~= 'ready' then
    return text
  end
  -- Ready: the buffer's route and the warnings, e.g. "infill: ready (local only, 1 warning)".
  local notes = {}
  if status.route then
    notes[#notes + 1] = M.route_label(status.route)
  end
  local count = #(status.warnings or {})
  if count > 0 then
    notes[#notes + 1] = ('%d warning%s'):format(count, count == 1 and '' or 's')
  end
  if #notes > 0 then
    text = text .. ' (' .. table.concat(notes, ', ') .. ')'
  end
  return text
end

return M
