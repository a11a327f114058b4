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
---@field client_id integer?
---@field updated_at integer? Time of the last notification, from `vim.uv.now()`.

local KNOWN_STATES = { loading = true, ready = true, error = true, disabled = true }

---@type table<integer, infill.Status>
M.by_client = {}

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
    }
  else
    status = { state = 'error', message = 'malformed infill/status: ' .. vim.inspect(params), model = nil }
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
    return { state = 'stopped', message = 'infill-ls is not running', model = nil }
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

--- Short text for a statusline, e.g. `infill: ready`; empty when no server runs for the buffer.
---@param bufnr integer?
---@return string
function M.statusline(bufnr)
  local status = M.get(bufnr)
  if status.state == 'stopped' then
    return ''
  end
  return 'infill: ' .. (SYMBOLS[status.state] or status.state)
end

return M
