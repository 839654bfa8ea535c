-- wrk script for Scripts/bench: GET /v1/credentials/{id}/status for ids drawn at random from
-- the file given after `--` (one id per line, all of one length, as `vellum-bench ledger`
-- writes them). The ids stay in one string: kept as a table of a million strings, Lua's
-- collector walked it every few thousand requests and stalled wrk's thread for tens of
-- milliseconds, which showed up as the server's p99 (Docs/PERFORMANCE.md).
local ids, width, count

function init(args)
  local file = assert(io.open(args[1], "rb"))
  ids = file:read("*a")
  file:close()
  width = assert(ids:find("\n"), "no id in " .. args[1])
  assert(#ids % width == 0, args[1] .. ": the ids are not all of one length")
  count = math.floor(#ids / width)
  math.randomseed(os.time())
end

function request()
  local start = (math.random(count) - 1) * width + 1
  return wrk.format("GET", "/v1/credentials/" .. ids:sub(start, start + width - 2) .. "/status")
end
