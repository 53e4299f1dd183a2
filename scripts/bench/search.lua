-- wrk: GET /search with words of the synthetic vocabulary that
-- `waymark dev seed --articles N` writes (crates/store/src/generate.rs, `word`):
-- one word in three is common (among the first 50, each in a fifth to a quarter
-- of the articles), one of middling use
-- (50 to 800), one rare (800 to 8,000); every fourth query is two words and
-- every fourth a quoted two-word phrase.
local syl = {"ka", "lo", "mir", "tan", "vel", "qua", "dor", "sen", "pim", "rux", "bel", "zo",
  "gar", "nif", "tho", "wex", "yul", "cre", "dag", "fom"}
local function word(i)
  local n = #syl
  return syl[i % n + 1] .. syl[math.floor(i / n) % n + 1] .. syl[math.floor(i / (n * n)) % n + 1]
end
-- (the vocabulary: `word` and `skewed_word` in generate.rs)
local function pick()
  local r = math.random(3)
  if r == 1 then return word(math.random(0, 49)) end
  if r == 2 then return word(math.random(50, 799)) end
  return word(math.random(800, 7999))
end
function init(args)
  math.randomseed(os.time() + (tonumber(tostring({}):match("0x(%x+)"), 16) or 0) % 1000)
end
function request()
  local k = math.random(4)
  local q = pick()
  if k == 1 then q = q .. "+" .. pick() elseif k == 2 then q = "%22" .. q .. "+" .. pick() .. "%22" end
  return wrk.format("GET", "/search?q=" .. q)
end
