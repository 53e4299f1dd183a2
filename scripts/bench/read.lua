-- wrk: GET one engagement chosen at random from 1..N, so the reads are
-- spread over the whole database. Arguments: N (10000), and the path
-- before the id (/api/v1/engagements/ for the API, /engagements/ for the
-- workspace page).
local n, prefix = 10000, "/api/v1/engagements/"
function init(args)
  n = tonumber(args[1]) or n
  prefix = args[2] or prefix
  math.randomseed(os.time() + (tonumber(tostring({}):match("0x(%x+)"), 16) or 0) % 1000)
end
function request()
  return wrk.format("GET", prefix .. math.random(1, n))
end
