-- wrk script for Scripts/bench and Scripts/hostile: GET /v1/credentials/{id}/status for ids
-- drawn at random from the file given after `--` (one id per line, all of one length, as
-- `vellum-bench ledger` and `vellum issue` write them).
--
-- The ids stay in one string: kept as a table of a million strings, Lua's collector walked
-- it every few thousand requests and stalled wrk's thread for tens of milliseconds, which
-- wrk then reported as the server's p99 (Docs/PERFORMANCE.md). Each wrk thread has its own
-- Lua state: each gets its own seed, or every thread would ask for the same ids in step.
local ids, width, count
local threads = 0

function setup(thread)
  threads = threads + 1
  thread:set("seed", os.time() * 1000 + threads)
end

function init(args)
  local file = assert(io.open(args[1], "rb"))
  ids = file:read("*a")
  file:close()
  width = assert(ids:find("\n"), "no id in " .. args[1])
  count = math.floor(#ids / width)
  assert(#ids % width == 0, args[1] .. ": the ids are not all of one length")
  for i = 1, count do
    assert(ids:byte(i * width) == 10, args[1] .. ": the ids are not all of one length")
  end
  math.randomseed(seed or os.time())
end

function request()
  local start = (math.random(count) - 1) * width + 1
  return wrk.format("GET", "/v1/credentials/" .. ids:sub(start, start + width - 2) .. "/status")
end
