-- wrk: record a step on many engagements. The first argument names a file
-- of "id version" lines (Do it With You engagements). Each wrk thread takes
-- its own share of them and walks through it in turn, sending the version
-- its engagement is at, so no request conflicts with another: every
-- non-2xx response wrk reports is a real failure.
local ids, versions, at, share = {}, {}, 0, {}
function setup(thread)
  thread:set("tid", threads_made or 0)
  threads_made = (threads_made or 0) + 1
end
function init(args)
  local f = assert(io.open(args[1]))
  local i = 0
  for line in f:lines() do
    local id, v = line:match("(%d+)%s+(%d+)")
    if id then
      i = i + 1
      ids[#ids + 1] = tonumber(id)
      versions[tonumber(id)] = tonumber(v)
    end
  end
  f:close()
  wrk.headers["Content-Type"] = "application/json"
  local parts = tonumber(args[2]) or 1
  for k, id in ipairs(ids) do
    if k % parts == tid then share[#share + 1] = id end
  end
end
local flip = false
function request()
  at = at % #share + 1
  local id = share[at]
  flip = not flip
  local status = flip and "in_progress" or "done"
  local body = string.format(
    '{"expected_version":%d,"command":{"command":"set_step","stage":"engagement","step":1,"status":{"status":"%s"}}}',
    versions[id], status)
  -- nil headers: wrk.headers, which hold -H's token and the type below.
  return wrk.format("POST", "/api/v1/engagements/" .. id .. "/commands", nil, body)
end
function response(status, headers, body)
  if status == 200 then
    local id = tonumber(body:match('"id":(%d+)'))
    local v = tonumber(body:match('"version":(%d+)'))
    if id and v then versions[id] = v end
  end
end
