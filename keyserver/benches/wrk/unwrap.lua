-- wrk: POST /v1/documents/{id}/unwrap with a prepared body (stanza + ephemeral key).
local f = assert(io.open(os.getenv("PQFILE_BENCH_BODY"), "rb"))
wrk.body = f:read("*a")
f:close()
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer " .. os.getenv("PQFILE_BENCH_TOKEN")
