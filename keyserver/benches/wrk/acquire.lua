-- wrk: POST /v1/documents (key acquisition + document registration + audit row).
wrk.method = "POST"
wrk.headers["Authorization"] = "Bearer " .. os.getenv("PQFILE_BENCH_TOKEN")
