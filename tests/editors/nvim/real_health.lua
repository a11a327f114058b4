--- `:checkhealth infill` with the real server and its default model: the model state, and the checks of
--- `infill-ls doctor` (build, model, self-checks, speed, grammars) run with the plugin's command and
--- settings, all passing.
local H = dofile(vim.fs.joinpath(vim.fs.dirname(arg[0]), 'harness.lua'))

H.run(function()
  local ed = H.editor({ settings = { completion = { maxTokens = 16 }, index = { enabled = false } } })
  ed:lua("require('infill.health').doctor_timeout_ms = ...", H.timeout_ms)
  ed:open('main.py', { 'print(1)' })
  ed:wait('the model to load', "return require('infill').state().state == 'ready'")
  local report = H.health_lines(ed)
  H.contains(report, 'OK model state: ready', 'health')
  H.contains(report, 'infill: doctor', 'health: the doctor section')
  H.contains(report, 'FIM template:', 'health: what doctor found out')
  H.contains(report, 'python      ok', 'health: grammars')
  H.contains(report, 'OK infill-ls doctor: no problems', 'health: the verdict')
  H.contains(report, '/main.py: local - local model', "health: doctor's route of the served file")
  H.lacks(report, 'ERROR', 'health')
  ed:quit()
end)
