-- wrk: GET the workspace page of an engagement chosen at random from 1..N.
local n = 10000
function init(args)
  n = tonumber(args[1]) or n
  math.randomseed(os.time() + (tonumber(tostring({}):match("0x(%x+)"), 16) or 0) % 1000)
end
function request()
  return wrk.format("GET", "/engagements/" .. math.random(1, n))
end
