-- The hot token, from a browser page: Origin set, so the CORS stage runs in full.
local token = io.open(os.getenv("BENCH_TOKEN_FILE")):read("*l")
wrk.headers["Authorization"] = "Bearer " .. token
wrk.headers["Origin"] = "https://app.example.com"
