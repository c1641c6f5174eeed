"""The insurance gateway against the sandbox centre: `python -m bench.bench_insurance`.

The sandbox runs as `dingdian sandbox-centre` in its own process on 127.0.0.1; the store's database
is a fresh migrated SQLite file. Measured per call, `--n` times each, for a 5-line 职工 purchase:

- 2101 pre-settle through the HTTP adapter (msgid allocated, out/in rows in the message log);
- 2102 settle through the adapter (the same, and the sandbox books it);
- beside them, in the same run, the floor: the same 2101 envelope POSTed with a bare httpx client
  (no msgid allocation, no message log), so the gateway's own bookkeeping can be read off.

Figures are printed, not asserted.
"""

from __future__ import annotations

import argparse
import subprocess
import tempfile
import time
from decimal import Decimal
from pathlib import Path

import httpx

from bench._common import clean_env, dingdian_command, free_port, get_status, p50_p99, rule
from server.config import ROOT, load_settings
from server.db.engine import make_engine
from server.db.migrate import upgrade
from server.db.types import utcnow
from server.insurance import messages as m
from server.insurance import wire
from server.insurance.factory import make_gateway
from server.insurance.gateway import Caller
from server.insurance.sandbox.persons import DEMO_PERSONS
from server.services.store.profile import bootstrap_store


def _request(codes: list[tuple[str, int]]) -> m.SettleRequest:
    p = DEMO_PERSONS[0]
    # the store's wall clock, as the service sends begntime (card_settlement), never the machine's zone
    now = utcnow().astimezone(load_settings(ROOT / "config.toml").store.tz).replace(tzinfo=None, microsecond=0)
    lines = [m.DrugDetail(feedetl_sn=str(i + 1), fee_ocur_time=now, med_list_codg=code, medins_list_codg=f"YP{i:06d}",
                          det_item_fee_sumamt_fen=price, cnt=Decimal(1), pric_fen=price)
             for i, (code, price) in enumerate(codes)]
    return m.SettleRequest(druginfo=m.DrugInfo(
        psn_no=p.psn_no, mdtrt_cert_type="03", mdtrt_cert_no=p.card_no, card_sn=p.card_sn, psn_cert_type="01",
        certno=p.certno, psn_type=p.psn_type, psn_name=p.name, begntime=now,
        medfee_sumamt_fen=sum(d.det_item_fee_sumamt_fen for d in lines), insutype=p.insutype, acct_used_flag="1"),
        drugdetail=lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=200, help="calls of each kind (default 200)")
    args = parser.parse_args(argv)
    from catalog.demo_data import demo_items

    # products sold without trace codes: the purchases here carry none, and the centre refuses a traced one without
    codes = [(i.nhsa_code, i.price_fen) for i in demo_items() if i.nhsa_code and not i.traced][:5]
    with tempfile.TemporaryDirectory() as tmp:
        port = free_port()
        sandbox = subprocess.Popen([*dingdian_command(), "sandbox-centre", "--port", str(port), "--db",
                                    str(Path(tmp) / "centre.db")], cwd=ROOT, env=clean_env(),
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            deadline = time.monotonic() + 30
            while get_status(port, "/health") != 200:
                if time.monotonic() > deadline or sandbox.poll() is not None:
                    raise RuntimeError("the sandbox centre did not start")
                time.sleep(0.1)
            settings = load_settings(ROOT / "config.toml", database={"url": f"sqlite:///{tmp}/pos.db"},
                                     insurance={"url": f"http://127.0.0.1:{port}"})
            engine = make_engine(settings.database.url)
            upgrade(engine)
            gw = make_gateway(settings, engine, bootstrap_store(engine, settings))
            caller = Caller("bench1", "压测")
            caller = Caller("bench1", "压测", gw.sign_in(caller, "00:00:00:00:00:01", "127.0.0.1").sign_no, "440300")
            request = _request(codes)
            for _ in range(10):  # warm both ends
                gw.pre_settle(caller, request)
            pre, settle, bare = [], [], []
            raw = httpx.Client(trust_env=False)
            for _ in range(args.n):
                t0 = time.perf_counter()
                gw.pre_settle(caller, request)
                t1 = time.perf_counter()
                gw.settle(caller, request, gw.new_msgid())
                t2 = time.perf_counter()
                body = wire.dumps(gw.envelope("2101", gw.new_msgid(), caller, request.input())).encode()
                t3 = time.perf_counter()
                answer = raw.post(gw.url, content=body, headers={"Content-Type": "application/json"})
                assert wire.loads(answer.content)["infcode"] == 0
                t4 = time.perf_counter()
                pre.append((t1 - t0) * 1000)
                settle.append((t2 - t1) * 1000)
                bare.append((t4 - t3) * 1000)
            raw.close()
            gw.close()
            engine.dispose()
        finally:
            sandbox.terminate()
            sandbox.wait(timeout=10)
    print("insurance gateway ⇄ sandbox centre (5-line 职工 purchase, SQLite store database)")
    print(rule())
    for label, ms in (("2101 pre-settle via the adapter", pre), ("2102 settle via the adapter", settle),
                      ("2101 bare POST, no msgid / log (floor)", bare)):
        p50, p99 = p50_p99(ms)
        print(f"{label:<42} median {p50:7.2f} ms   p99 {p99:7.2f} ms   (n={len(ms)})")
    print(f"adapter bookkeeping (msgid + 2 log rows) ≈ {p50_p99(pre)[0] - p50_p99(bare)[0]:.2f} ms at the median")


if __name__ == "__main__":
    main()
