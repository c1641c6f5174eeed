"""The insurance centre link (NHSA 国家医疗保障信息平台 interface, retail-pharmacy subset).

- `gateway.InsuranceGateway`: the transactions (9001/9002, 1101, 2101/2102/2103, 2601, 3201).
- `http_adapter.HttpGateway`: the envelope over HTTP; `factory.make_gateway` builds it from config.
- `eprx`: the prescription platform's 7201–7208; `eprx_rest.RestGateway`: the same over the national 医保电子处方中心's
  REST envelope (SM4/SM2), built instead where `[eprx] generation = "rest"`.
- `messages`: typed inputs and outputs (money in integer fen); `errors`: what can go wrong.
- `msgid.allocate_msgid`: the persisted, rising msgid; `msglog`: every message kept whole.
- `sandbox/`: a separate FastAPI app that plays the centre, with a fund model and its own ledger.
"""
