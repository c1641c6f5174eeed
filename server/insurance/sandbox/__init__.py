"""The sandbox insurance centre (医保沙箱中心): a separate FastAPI app that answers the NHSA
transactions with a fund model and keeps its own ledger, so the real HTTP adapter is tested
against a real HTTP peer. Start it with `dingdian sandbox-centre`; in tests use
`server.insurance.sandbox.serve.start_in_thread` and `server.insurance.sandbox.client.SandboxAdmin`.
"""
