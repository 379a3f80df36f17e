-- Distinct valid tokens in rotation; each wrk thread starts at its own offset.
local threads = 0
function setup(thread)
  thread:set("offset", threads * 4999)
  threads = threads + 1
end

function init(args)
  tokens = {}
  for line in io.lines(os.getenv("BENCH_TOKENS_FILE")) do
    tokens[#tokens + 1] = "Bearer " .. line
  end
  i = offset or 0
end

function request()
  i = i + 1
  return wrk.format("GET", nil, {["Authorization"] = tokens[(i % #tokens) + 1]})
end
