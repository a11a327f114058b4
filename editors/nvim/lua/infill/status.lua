--- Model/server state reported by infill-ls through the `infill/status` notification.
---
--- Kept per client so a statusline or `:checkhealth infill` can show whether the model is still
--- loading, ready, failed or switched off, without ever asking the server (which may be busy).

local M = {}

---@alias infill.State 'loading'|'ready'|'error'|'disabled'|'starting'|'stopped'

---@class infill.Status
---@field state infill.State
---@field message string
---@field model string?
---@field warnings string[] Self-check findings of a model that works, but worse than it should (state stays 'ready').
---@field client_id integer?
---@field updated_at integer? Time of the last notification, from `vim.uv.now()`.

local KNOWN_STATES = { loading = true, ready = true, error = true, disabled = true }

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
end

local SYMBOLS = {
  loading = 'loading',
  ready = 'ready',
  error = 'error',
  disabled = 'off',
  starting = 'starting',
  stopped = 'stopped',
}

--- Short text for a statusline, e.g. `infill: ready`, `infill: ready (1 warning)`; empty when no
--- server runs for the buffer.
---@param bufnr integer?
---@return string
function M.statusline(bufnr)
  local status = M.get(bufnr)
  if status.state == 'stopped' then
    return ''
  end
  local text = 'infill: ' .. (SYMBOLS[status.state] or status.state)
  local count = #(status.warnings or {})
  if status.state == 'ready' and count > 0 then
    text = text .. (' (%d warning%s)'):format(count, count == 1 and '' or 's')
  end
  return text
end

return M
