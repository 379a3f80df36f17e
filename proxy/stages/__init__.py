"""The policy chain of a proxied call, in fixed stages (docs/policies.md).

    1. transport            cors.py (preflight answered here), request_limits.py (head)
    2. identify and access  client_addresses.py (API lists), then the token, the application
                            (proxy/pipeline.py), then client_addresses.py (application lists)
    3. request processing   request_limits.py (body), transform.py (request)
    4. routing              balancer.py (target choice, passive health) and
                            proxy/balancing.py (the call, one retry, active health checks)
    5. response processing  transform.py (response), cors.py (response headers)
    6. error handling       proxy/errors.py, with the CORS headers of stage 1

Each module compiles its policy from the config snapshot (chain.py compile_chain) and
holds that policy type's rules; none of them queries the database or does I/O.
"""
