"""`dingdian`: the store's command line (Typer)."""

from __future__ import annotations

import errno
import gc
import getpass
import json
import logging
import os
import socket
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NoReturn, TextIO

import typer

from server.config import ConfigError, Settings, load_settings

if TYPE_CHECKING:  # imported where used: a command loads only what it needs
    import subprocess

    from sqlalchemy import Engine

    from server.roles import Role
    from server.services.context import Ctx

app = typer.Typer(help="丁点药房收银系统 Dingdian POS — the store's command line.", no_args_is_help=True,
                  add_completion=False)
db_app = typer.Typer(help="Database schema (Alembic migrations).", no_args_is_help=True)
catalog_app = typer.Typer(help="Catalog upkeep.", no_args_is_help=True)
user_app = typer.Typer(help="Accounts and posts.", no_args_is_help=True)
audit_app = typer.Typer(help="The hash-chained audit log.", no_args_is_help=True)
till_app = typer.Typer(help="Registered tills (AGR-02).", no_args_is_help=True)
supplier_app = typer.Typer(help="Suppliers: scope, 首营 approvals (GSP-05).", no_args_is_help=True)
receipt_app = typer.Typer(help="Receiving (采购入库) and the first inventory: enter, inspect, approve (GSP-05).",
                          no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(catalog_app, name="catalog")
app.add_typer(user_app, name="user")
app.add_typer(audit_app, name="audit")
app.add_typer(till_app, name="till")
app.add_typer(supplier_app, name="supplier")
app.add_typer(receipt_app, name="receipt")
report_app = typer.Typer(help="Month-end reports from the ledger (进销存 …), read-only.", no_args_is_help=True)
app.add_typer(report_app, name="report")

ConfigOpt = Annotated[Path | None, typer.Option("--config", "-c", help="config.toml to use (default: ./config.toml)")]
AsOpt = Annotated[str | None, typer.Option("--as", help="who runs the command: your username (your PIN is asked)")]


def _settings(config: Path | None) -> Settings:
    try:
        return load_settings(config)
    except ConfigError as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(2) from exc


def _engine(settings: Settings) -> Engine:
    from server.db.engine import make_engine

    if path := settings.sqlite_path:
        path.parent.mkdir(parents=True, exist_ok=True)
    return make_engine(settings.database.url)


def _ctx(settings: Settings, engine: Engine) -> Ctx:
    from server.audit import Actor
    from server.db.revisions import SchemaOutOfDate, require_head
    from server.services.context import Ctx
    from server.services.store.profile import bootstrap_store

    try:
        require_head(engine)
    except SchemaOutOfDate as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(2) from exc
    store_id = bootstrap_store(engine, settings)
    return Ctx(store_id, settings, Actor(None, f"cli:{getpass.getuser()}"))


def _acting(engine: Engine, ctx: Ctx, as_user: str | None, action: str) -> Ctx:
    """SEC-01: a command that changes the store acts as a named person who authenticates with their PIN (the
    login's lockout counts a wrong one), never as "system", and only within that person's posts."""
    from server.audit import Actor
    from server.db.models.base import id_of
    from server.db.uow import core_unit, orm
    from server.errors import AppError
    from server.permissions import Action, allowed
    from server.services.store.users import active_roles, check_pin

    if not as_user:
        typer.echo("[SEC-01] 命令行须以具名人员身份执行，请用 --as 用户名 / the command line acts as a named person: "
                   "--as USERNAME", err=True)
        raise typer.Exit(2)
    pin = typer.prompt(f"{as_user} 的 PIN / PIN", hide_input=True)
    try:
        with core_unit(engine) as u:
            user = check_pin(u, ctx, as_user, pin)
            roles = active_roles(orm(u), id_of(user)) if user is not None else frozenset()
    except AppError as exc:
        raise _fail(exc) from exc
    if user is None:  # the failure was counted and committed
        typer.echo("[AUTH] 用户名或 PIN 错误 / wrong username or PIN", err=True)
        raise typer.Exit(1)
    if not allowed(roles, Action(action)):
        typer.echo(f"[SEC-01] 当前岗位无权执行此操作 / your post may not do {action}", err=True)
        raise typer.Exit(1)
    return ctx.acting(Actor(id_of(user), user.username))


def _fail(exc: Exception) -> typer.Exit:
    from server.errors import AppError

    if isinstance(exc, AppError):
        typer.echo(f"[{exc.code}] {exc.message_zh} / {exc.message_en}", err=True)
    else:
        typer.echo(str(exc), err=True)
    return typer.Exit(1)


@app.command()
def serve(config: ConfigOpt = None,
          host: Annotated[str | None, typer.Option(help="override service.host")] = None,
          port: Annotated[int | None, typer.Option(help="override service.port")] = None,
          log_file: Annotated[Path | None, typer.Option(
              "--log-file", help="the service's log (default: service.log beside the SQLite database, else var/)")]
          = None) -> None:
    """Run the service (FastAPI) on the configured host and port."""
    settings = _settings(config)
    host, port = host or settings.service.host, port or settings.service.port
    if (db := settings.sqlite_path) is not None and not db.parent.is_dir():
        _stop(f"数据库目录不存在：{db.parent}（先运行 dingdian db upgrade 或 dingdian demo） / the SQLite database's "
              f"directory does not exist: {db.parent} (run `dingdian db upgrade` or `dingdian demo` first)")
    log = service_log(settings, log_file)
    listener = _listen(host, port)  # before the slow part: a port already taken is said at once
    # Start-up allocates some 200k objects that live as long as the service (modules, classes, routes, the
    # models' metadata) and next to no garbage: the collector walked them over and over while they were made
    # (~0.2 s of the cold start). It waits until they are made, and then no longer sees them (gc.freeze).
    gc.disable()
    try:
        import uvicorn
        from sqlalchemy.exc import OperationalError

        from server.app import create_app
        from server.db.revisions import SchemaOutOfDate

        try:
            application = create_app(settings, routes_later=True)
        except SchemaOutOfDate as exc:
            _stop(str(exc))
        except OperationalError as exc:
            _stop(f"数据库无法打开 / the database cannot be opened: {str(exc.orig).splitlines()[0]}")
        gc.freeze()
    finally:
        gc.enable()
    where = f"http://{host}:{port}"
    typer.echo(f"服务已启动 / service listening on {where}  ·  API 文档 / docs: {where}/docs  ·  日志 / log: {log}")
    logging.getLogger("dingdian").info("service listening on %s (pid %d)", where, os.getpid())
    # ws="none": the service serves no WebSocket (the till's live events are SSE), so uvicorn need not load one.
    # log_config=None: uvicorn's loggers go to the service's log (service_log), not to handlers of its own.
    uvicorn.Server(uvicorn.Config(application, log_config=None, log_level="warning", access_log=False,
                                  ws="none")).run(sockets=[listener])


def _stop(message: str) -> NoReturn:
    """One line, in both languages, and exit 2: a start-up problem the person can fix is not a traceback."""
    typer.echo(message, err=True)
    raise typer.Exit(2)


def service_log(settings: Settings, path: Path | None = None) -> Path:
    """Send the service's log (every `logging` record from INFO up, uvicorn's included) to its file; warnings also
    to stderr unless stderr is that very file (`dingdian demo` sends the child's output there)."""
    import logging.handlers

    from server.config import ROOT

    log = path or (settings.sqlite_path.parent if settings.sqlite_path else ROOT / "var") / "service.log"
    try:
        log.parent.mkdir(parents=True, exist_ok=True)
        handler = logging.FileHandler(log, encoding="utf-8")
    except OSError as exc:
        _stop(f"无法写入日志文件 / cannot write the log file {log}: {exc.strerror}")
    formatter = logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s")
    handler.setFormatter(formatter)
    root = logging.getLogger()
    root.setLevel(logging.INFO)
    root.addHandler(handler)
    if not _same_file(sys.stderr, log):
        console = logging.StreamHandler()
        console.setLevel(logging.WARNING)
        console.setFormatter(formatter)
        root.addHandler(console)
    return log


def _same_file(stream: TextIO, path: Path) -> bool:
    try:
        return os.path.samestat(os.fstat(stream.fileno()), os.stat(path))
    except (OSError, AttributeError, ValueError):  # no file behind the stream (pytest's capture, a closed stream)
        return False


def _listen(host: str, port: int) -> socket.socket:
    """The service's listening socket, bound here so that a port already in use is one line, not a traceback."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn does: a restart may reuse the port at once
    try:
        sock.bind((host, port))
        sock.listen(2048)
    except OSError as exc:
        sock.close()
        if exc.errno == errno.EADDRINUSE:
            _stop(f"端口 {port} 已被占用（服务是否已在运行？） / port {port} on {host} is already in use "
                  "(is the service already running?)")
        _stop(f"无法在 {host}:{port} 上监听 / cannot listen on {host}:{port}: {exc.strerror}")
    sock.set_inheritable(True)
    return sock


@app.command()
def pos(config: ConfigOpt = None,
        office: Annotated[bool, typer.Option("--office", help="the back office alone: login, then the back office's "
                                                              "menu; no sale, no shift, no devices (what "
                                                              "`dingdian office` serves to a browser)")] = False,
        ) -> None:
    """Open the till (Textual) for this config's till code, talking to the configured service."""
    from pos.app import DingdianTill

    DingdianTill(_settings(config), office=office).run()


@app.command()
def demo(config: ConfigOpt = None,
         serve_after: Annotated[bool, typer.Option("--serve/--no-serve", help="start the service afterwards")] = True,
         till: Annotated[bool | None, typer.Option("--till/--no-till",
                                                   help="open the till too (default: when run in a terminal)")] = None,
         reset: Annotated[bool, typer.Option(help="delete the demo database first (SQLite only)")] = False) -> None:
    """Set up the demo store (schema, demo catalog, stock, users), start the service and open the till."""
    from server.db.migrate import upgrade
    from server.demo import load_demo

    settings = _settings(config)
    if reset and (path := settings.sqlite_path):
        for suffix in ("", "-wal", "-shm"):
            Path(str(path) + suffix).unlink(missing_ok=True)
    engine = _engine(settings)
    upgrade(engine)
    ctx = _ctx(settings, engine)
    summary = load_demo(engine, ctx)
    typer.echo(summary)
    if not serve_after:
        return
    base = f"http://{settings.service.host}:{settings.service.port}"
    typer.echo(f"服务 / service: {base}  ·  API 文档 / API docs: {base}/docs")
    sandbox = _start_sandbox_centre(settings)
    try:
        if till if till is not None else sys.stdin.isatty() and sys.stdout.isatty():
            _serve_in_background_and_open_till(settings, config, base)
        else:
            typer.echo("(Ctrl-C 退出 / to stop)")
            serve(config=config)
    finally:
        _stop_child(sandbox)


def _start_sandbox_centre(settings: Settings) -> subprocess.Popen[bytes] | None:
    """The sandbox insurance centre in a child process beside the service (gateway = "sandbox")."""
    import subprocess
    import time
    from urllib.parse import urlsplit

    import httpx

    from server.config import ROOT

    ins = settings.insurance
    if ins.gateway != "sandbox":
        return None
    url = urlsplit(ins.url)
    db = Path(ins.sandbox_db) if Path(ins.sandbox_db).is_absolute() else ROOT / ins.sandbox_db
    log = db.parent / "sandbox-centre.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    args = [sys.executable, "-m", "server.cli", "sandbox-centre", "--host", url.hostname or "127.0.0.1",
            "--port", str(url.port or 8601), "--db", str(db), "--path", ins.path]
    with log.open("ab") as out:
        child = subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and child.poll() is None:
        try:
            if httpx.get(f"{ins.url.rstrip('/')}/health", timeout=1).status_code == 200:
                typer.echo(f"医保沙箱中心 / sandbox insurance centre: {ins.url}  (账本 ledger: {db})")
                return child
        except httpx.TransportError:
            time.sleep(0.1)
    typer.echo(f"医保沙箱中心未能启动（现金销售不受影响） / the sandbox centre did not start; see {log}", err=True)
    _stop_child(child)
    return None


def _stop_child(child: subprocess.Popen[bytes] | None) -> None:
    import subprocess

    if child is None or child.poll() is not None:
        return
    child.terminate()
    try:
        child.wait(timeout=10)
    except subprocess.TimeoutExpired:
        child.kill()


@app.command("sandbox-centre")
def sandbox_centre(port: Annotated[int, typer.Option(help="port to listen on")] = 8601,
                   db: Annotated[Path, typer.Option(help="the sandbox's own ledger (SQLite)")] = Path(
                       "var/sandbox-centre.db"),
                   host: Annotated[str, typer.Option(help="address to listen on (loopback by default)")] = "127.0.0.1",
                   path: Annotated[str, typer.Option(help="the transaction endpoint path")] = "/fsi/api/callService",
                   ) -> None:
    """Run the sandbox insurance centre (医保沙箱中心): NHSA transactions, a fund model, its own ledger."""
    from server.insurance.sandbox.serve import serve_forever

    typer.echo(f"医保沙箱中心 / sandbox insurance centre: http://{host}:{port}{path}  ·  admin: /docs  ·  ledger: {db}")
    serve_forever(db, host=host, port=port, path=path)


def _serve_in_background_and_open_till(settings: Settings, config: Path | None, base: str) -> None:
    """The service in a child process, the till in this terminal; leaving the till stops the service."""
    import subprocess
    import time

    import httpx

    from pos.app import DingdianTill

    log = (settings.sqlite_path.parent if settings.sqlite_path else Path("var")) / "service.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    args = [sys.executable, "-m", "server.cli", "serve"] + (["--config", str(config)] if config else [])
    with log.open("ab") as out:
        service = subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and service.poll() is None:
            try:
                if httpx.get(f"{base}/health", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.1)
        if service.poll() is not None:
            typer.echo(f"服务未能启动 / the service did not start; see {log}", err=True)
            raise typer.Exit(1)
        DingdianTill(settings).run()
    finally:
        service.terminate()
        try:
            service.wait(timeout=10)
        except subprocess.TimeoutExpired:
            service.kill()


@db_app.command("upgrade")
def db_upgrade(config: ConfigOpt = None) -> None:
    """Bring the database schema to the newest migration."""
    from server.db.migrate import current_revision, upgrade

    settings = _settings(config)
    engine = _engine(settings)
    upgrade(engine)
    _ctx(settings, engine)
    typer.echo(f"数据库已是最新版本 / schema at {current_revision(engine)}")


@catalog_app.command("import")
def catalog_import(file: Annotated[Path, typer.Argument(help="CSV or XLSX file", exists=True, dir_okay=False)],
                   config: ConfigOpt = None,
                   valid_only: Annotated[bool, typer.Option(help="import the valid rows even if others have errors")] = False,
                   confirm_user: Annotated[str, typer.Option(help="the second person approving rows that loosen an "
                                                                  "item's class or 医保 mapping (their PIN is asked for)")] = "",
                   reason: Annotated[str, typer.Option(help="why those rows loosen control")] = "",
                   as_user: AsOpt = None) -> None:
    """Import items from a CSV or XLSX file (validated as a whole; re-importing changes nothing). A row that loosens
    an item's controlled facts (RX-01, CARD-07) is refused unless a second person of the right post approves."""
    from server.db.uow import core_unit
    from server.errors import AppError
    from server.services.catalog.importing import import_file
    from server.services.catalog.items import Approval
    from server.services.store.users import second_person

    settings = _settings(config)
    engine = _engine(settings)
    ctx = _acting(engine, _ctx(settings, engine), as_user, "catalog.write")
    approval = None
    if confirm_user:
        pin = typer.prompt(f"{confirm_user} 的 PIN / PIN", hide_input=True)
        try:
            with core_unit(engine) as u:  # committed: a wrong PIN counts towards the lockout
                approver = second_person(u, ctx, confirm_user, pin)
        except AppError as exc:
            typer.echo(f"{exc.message_zh} / {exc.message_en}", err=True)
            raise typer.Exit(1) from exc
        if approver is None:
            typer.echo("用户名或 PIN 错误 / wrong username or PIN", err=True)
            raise typer.Exit(1)
        approval = Approval(approver, reason)
    result = import_file(engine, ctx, file, valid_only, approval=approval)
    for err in result.errors:
        typer.echo(f"第 {err.get('row')} 行 [{err.get('column', '')}] {err.get('message_zh')} / {err.get('message_en')}",
                   err=True)
    typer.echo(f"{'已导入' if result.applied else '未导入'} / {'applied' if result.applied else 'nothing imported'}: "
               f"新增 created {result.created}, 更新 updated {result.updated}, 未变 unchanged {result.unchanged}, "
               f"错误 errors {len(result.errors)}")
    if result.errors and not result.applied:
        raise typer.Exit(1)


def _roles(role: list[str]) -> set[Role]:
    from server.roles import Role

    try:
        return {Role(r) for r in role}
    except ValueError as exc:
        typer.echo(f"未知岗位 / unknown post: {exc}", err=True)
        raise typer.Exit(2) from exc


@user_app.command("add")
def user_add(username: str,
             name: Annotated[str, typer.Option(help="display name")],
             role: Annotated[list[str], typer.Option(help="post: cashier, pharmacist, insurance_admin, manager, sysadmin")],
             id_number: Annotated[str, typer.Option("--id-number", help="the owner's 身份证号: an account belongs to a person")],
             config: ConfigOpt = None, as_user: AsOpt = None) -> None:
    """Create an account for a person. Its posts are requests until someone else approves them (`user approve`);
    the approval gives the one-time code with which the owner sets their own PIN. A fresh store, with nobody
    yet who could approve, is bootstrapped instead: the person at the keyboard creates their own account and
    chooses their own PIN."""
    from server.db.uow import core_unit
    from server.errors import AppError
    from server.services.store.users import add_user, create_account

    settings = _settings(config)
    engine = _engine(settings)
    ctx = _ctx(settings, engine)
    roles = _roles(role)
    try:
        if as_user is None and _fresh(engine, ctx):
            from server.audit import Actor

            typer.echo("新门店尚无可批准授权的人员：由本人建立自己的账号并设置 PIN / a fresh store: you create your own "
                       "account and choose your own PIN")
            pin = typer.prompt(f"{username} 的 PIN（本人设置） / your PIN", hide_input=True, confirmation_prompt=True)
            boot = ctx.acting(Actor(None, f"bootstrap:{getpass.getuser()}"))
            with core_unit(engine) as u:
                user = add_user(u, boot, username, name, pin, roles, id_number)
                typer.echo(f"已创建用户 / created user {user.username} (#{user.id})")
            return
        acting = _acting(engine, ctx, as_user, "user.write")
        with core_unit(engine) as u:
            user = create_account(u, acting, username, name, id_number, roles)
            typer.echo(f"已创建用户 / created user {user.username} (#{user.id}); 岗位待他人批准，批准时发放一次性码 / "
                       "its posts await someone else's approval, which gives the one-time code")
    except AppError as exc:
        raise _fail(exc) from exc


def _fresh(engine: Engine, ctx: Ctx) -> bool:
    """A store nobody could approve a grant in yet: no live account holds a post that approves."""
    from sqlmodel import col, select

    from server.db.models import User, UserRole, UserStatus
    from server.db.uow import read_session
    from server.permissions import Action, allowed
    from server.roles import Role
    from server.services.store.users import live_grant

    with read_session(engine) as s:
        rows = s.exec(select(UserRole.role).join(User, col(User.id) == UserRole.user_id)
                      .where(User.store_id == ctx.store_id, User.status == UserStatus.ACTIVE.value, User.pin_hash != "",
                             live_grant())).all()
    return not any(allowed({Role(r)}, Action.GRANT_APPROVE) for r in rows)


@user_app.command("approve")
def user_approve(grant_id: int, config: ConfigOpt = None, as_user: AsOpt = None) -> None:
    """Approve a post request (SEC-01: not the grantee's, not the requester's); a new account's one-time code is
    printed for its owner's hands only."""
    from server.db.uow import core_unit
    from server.errors import AppError
    from server.services.store.grants import approve

    settings = _settings(config)
    engine = _engine(settings)
    ctx = _acting(engine, _ctx(settings, engine), as_user, "user.approve")
    try:
        with core_unit(engine) as u:
            done = approve(u, ctx, grant_id)
    except AppError as exc:
        raise _fail(exc) from exc
    typer.echo(f"已批准 / approved: #{grant_id} {done.grant.role}")
    if done.one_time_code:
        typer.echo(f"一次性码（仅交本人，用于设置 PIN） / one-time code, for the owner only: {done.one_time_code}")


@user_app.command("freeze")
def user_freeze(username: str, reason: Annotated[str, typer.Option(help="离职 / 调岗 …")],
                config: ConfigOpt = None, as_user: AsOpt = None) -> None:
    """Freeze a departing or transferred employee's account; its tokens stop at once (SEC-03)."""
    from server.db.models.base import id_of
    from server.db.uow import core_unit, orm
    from server.errors import AppError
    from server.services.store.users import find_user, freeze_user

    settings = _settings(config)
    engine = _engine(settings)
    ctx = _acting(engine, _ctx(settings, engine), as_user, "user.freeze")
    try:
        with core_unit(engine) as u:
            freeze_user(u, ctx, id_of(find_user(orm(u), ctx, username)), reason)
    except AppError as exc:
        raise _fail(exc) from exc
    typer.echo(f"已冻结 / frozen: {username}")


@till_app.command("register")
def till_register(code: str, name: Annotated[str, typer.Option()] = "", config: ConfigOpt = None,
                  as_user: AsOpt = None) -> None:
    """Register a till with this store and its site."""
    from server.db.uow import core_unit
    from server.errors import AppError
    from server.services.store.profile import register_till

    settings = _settings(config)
    engine = _engine(settings)
    ctx = _acting(engine, _ctx(settings, engine), as_user, "till.write")
    try:
        with core_unit(engine) as u:
            register_till(u, ctx, code, name, "")
    except AppError as exc:
        raise _fail(exc) from exc
    typer.echo(f"已登记收款机 / till registered: {code}")


@audit_app.command("verify")
def audit_verify(config: ConfigOpt = None,
                 as_json: Annotated[bool, typer.Option("--json", help="print the report as JSON")] = False,
                 anchor: Annotated[list[str] | None, typer.Option(
                     "--anchor", help="a chain head written down earlier (seq:hash, as the Z report prints it, "
                                      "at least 16 hex digits); repeatable")] = None,
                 head: Annotated[bool, typer.Option("--head", help="print the chain's head (an anchor) and stop")]
                 = False) -> None:
    """Check the audit chain, every business row against its last audited image, and the anchors given."""
    from server import audit
    from server.db.uow import read_session

    try:
        anchors = [audit.Anchor.parse(a) for a in anchor or []]
    except ValueError as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(2) from exc
    settings = _settings(config)
    engine = _engine(settings)
    ctx = _ctx(settings, engine)
    with read_session(engine) as s:
        if head:
            typer.echo(str(audit.head(s, ctx.store_id)))
            return
        report = audit.verify(s, ctx.store_id, anchors)
    if as_json:
        typer.echo(json.dumps({"ok": report.ok, "entries": report.entries, "rows_checked": report.rows_checked,
                               "legacy_rows": report.legacy_rows, "problems": report.problems},
                              ensure_ascii=False, indent=2, default=str))
    else:
        for p in report.problems:
            typer.echo(f"✗ {p['zh']} / {p['en']}")
        legacy = (f", {report.legacy_rows} legacy rows (written before their table was verified row by row: "
                  "migrations 0011, 0016)" if report.legacy_rows else "")
        typer.echo(f"{'审计链完整' if report.ok else '发现问题'} / {'audit chain intact' if report.ok else 'problems found'}: "
                   f"{report.entries} entries, {report.rows_checked} rows checked{legacy}, "
                   f"{len(anchors)} anchors, {len(report.problems)} problems")
    if not report.ok:
        raise typer.Exit(1)


@supplier_app.command("add")
def supplier_add(name: str,
                 licence_no: Annotated[str, typer.Option("--licence-no", help="药品经营许可证号 …")],
                 licence_expiry: Annotated[str, typer.Option("--licence-expiry", help="YYYY-MM-DD")],
                 scope: Annotated[list[str], typer.Option("--scope", help="drugs, devices, health_food, food, "
                                                                          "cosmetics, sundries; repeatable")],
                 credit_code: Annotated[str, typer.Option("--credit-code", help="统一社会信用代码")] = "",
                 config: ConfigOpt = None, as_user: AsOpt = None) -> None:
    """Add a supplier with its licence, 统一社会信用代码 and business scope (经营范围)."""
    from datetime import date

    from server.db.uow import core_unit
    from server.errors import AppError
    from server.services.stock.suppliers import add_supplier

    settings = _settings(config)
    engine = _engine(settings)
    ctx = _acting(engine, _ctx(settings, engine), as_user, "supplier.write")
    try:
        with core_unit(engine) as u:
            sup = add_supplier(u, ctx, name, licence_no, date.fromisoformat(licence_expiry), credit_code, scope=scope)
            sid = sup.id
    except (AppError, ValueError) as exc:
        raise _fail(exc) from exc
    typer.echo(f"已添加供应商 / supplier added: #{sid} {name}（待首营审核 / awaiting first-time approval）")


@supplier_app.command("approve")
def supplier_approve(supplier_id: int,
                     item: Annotated[list[int] | None, typer.Option("--item", help="an item id approved from this "
                                                                                   "supplier (首营品种); repeatable")]
                     = None,
                     note: Annotated[str, typer.Option()] = "", config: ConfigOpt = None, as_user: AsOpt = None) -> None:
    """首营: approve a first-time supplier, or (with --item) first-time items from it."""
    from server.db.uow import core_unit
    from server.errors import AppError
    from server.services.stock import suppliers

    settings = _settings(config)
    engine = _engine(settings)
    ctx = _acting(engine, _ctx(settings, engine), as_user, "supplier.write")
    try:
        with core_unit(engine) as u:
            if item:
                for item_id in item:
                    suppliers.approve_item(u, ctx, supplier_id, item_id, note)
            else:
                suppliers.approve_supplier(u, ctx, supplier_id, note)
    except AppError as exc:
        raise _fail(exc) from exc
    typer.echo(f"已审核 / approved: supplier #{supplier_id}" + (f" items {item}" if item else ""))


def _receipt_text(receipt_id: int, settings: Settings, engine: Engine) -> str:
    from server.db.uow import read_session
    from server.services.stock import receiving

    ctx = _ctx(settings, engine)
    with read_session(engine) as s:
        r = receiving.get_receipt(s, ctx, receipt_id)
        rows = [f"入库单 / receipt #{r.id} {r.kind} {r.status} {r.business_date} 随货同行单 {r.dynt_no or '-'} "
                f"发票 {r.purc_invo_no or '-'}"]
        rows += [f"  {ln.line_no:>3} item #{ln.item_id} 批号 {ln.lot_no} 有效期 {ln.expires_on} {ln.qty} 件"
                 f"{f'+{ln.loose}' if ln.loose else ''} @ {ln.unit_cost_fen} 分  {ln.outcome} {ln.reason}"
                 for ln in receiving.lines_of(s, receipt_id)]
    return "\n".join(rows)


@receipt_app.command("create")
def receipt_create(file: Annotated[Path, typer.Argument(help="JSON: the API's body of POST /receipts (or of POST "
                                                              "/first-inventory with --first-inventory)",
                                                         exists=True, dir_okay=False)],
                   first_inventory: Annotated[bool, typer.Option("--first-inventory", help="the store's first "
                                                                                          "inventory (期初)")] = False,
                   config: ConfigOpt = None, as_user: AsOpt = None) -> None:
    """Enter a delivery (or the first inventory) from a JSON file; refused whole, every problem named."""
    from pydantic import ValidationError

    from server.api.schemas.stock import FirstInventoryIn, ReceiptIn
    from server.db.uow import core_unit, orm
    from server.errors import AppError
    from server.services.stock import receiving

    settings = _settings(config)
    engine = _engine(settings)
    ctx = _acting(engine, _ctx(settings, engine), as_user, "receipt.write")
    try:
        raw = file.read_text(encoding="utf-8")
        body = FirstInventoryIn.model_validate_json(raw) if first_inventory else ReceiptIn.model_validate_json(raw)
        with core_unit(engine) as u:
            lines = [receiving.LineIn(**ln.model_dump(exclude={"item_id", "barcode"}), item_id=ln.item_id
                                      if ln.item_id is not None else receiving.scanned(orm(u), ctx, ln.barcode or ""))
                     for ln in body.lines]
            if isinstance(body, ReceiptIn):
                r = receiving.create(u, ctx, receiving.PURCHASE, body.supplier_id, body.dynt_no, body.purc_invo_no,
                                     lines, body.business_date, body.note)
            else:
                r = receiving.create(u, ctx, receiving.OPENING, None, "", "", lines, body.business_date, body.note)
            rid = int(r.id or 0)
    except AppError as exc:
        if violations := exc.details.get("violations"):
            for v in violations:
                typer.echo(f"✗ [{v['code']}] {v['message_zh']} / {v['message_en']}", err=True)
        raise _fail(exc) from exc
    except ValidationError as exc:
        raise _fail(exc) from exc
    typer.echo(_receipt_text(rid, settings, engine))


def _verdicts(accept: list[int], reject: list[str], hold: list[str]) -> list[Any]:
    from server.services.stock.receiving import Verdict

    out = [Verdict(n, "accepted") for n in accept]
    for outcome, given in (("rejected", reject), ("quarantine", hold)):
        for g in given:
            no, _, reason = g.partition(":")
            if not no.strip().isdigit():
                typer.echo(f"行号:原因 / LINE:REASON expected, got {g!r}", err=True)
                raise typer.Exit(2)
            out.append(Verdict(int(no), outcome, reason))
    return out


@receipt_app.command("inspect")
def receipt_inspect(receipt_id: int,
                    accept: Annotated[list[int] | None, typer.Option("--accept", help="line no. 合格; repeatable")]
                    = None,
                    reject: Annotated[list[str] | None, typer.Option("--reject", help="LINE:原因 拒收; repeatable")]
                    = None,
                    hold: Annotated[list[str] | None, typer.Option("--hold", help="LINE:原因 待验; repeatable")] = None,
                    config: ConfigOpt = None, as_user: AsOpt = None) -> None:
    """验收: the caller's verdict on every line (合格 / 拒收 with a reason / 待验 with a reason)."""
    from server.db.uow import core_unit
    from server.errors import AppError
    from server.services.stock import receiving

    settings = _settings(config)
    engine = _engine(settings)
    ctx = _acting(engine, _ctx(settings, engine), as_user, "receipt.inspect")
    try:
        with core_unit(engine) as u:
            receiving.inspect(u, ctx, receipt_id, _verdicts(accept or [], reject or [], hold or []))
    except AppError as exc:
        raise _fail(exc) from exc
    typer.echo(_receipt_text(receipt_id, settings, engine))


@receipt_app.command("approve")
def receipt_approve(receipt_id: int, note: Annotated[str, typer.Option()] = "", config: ConfigOpt = None,
                    as_user: AsOpt = None) -> None:
    """The person in charge (not the inspector) approves: the receipt's stock enters the ledger."""
    from server.db.uow import core_unit
    from server.errors import AppError
    from server.services.stock import receiving

    settings = _settings(config)
    engine = _engine(settings)
    ctx = _acting(engine, _ctx(settings, engine), as_user, "batch.write")
    try:
        with core_unit(engine) as u:
            receiving.approve(u, ctx, receipt_id, note)
    except AppError as exc:
        raise _fail(exc) from exc
    typer.echo(_receipt_text(receipt_id, settings, engine))


@receipt_app.command("show")
def receipt_show(receipt_id: int, config: ConfigOpt = None) -> None:
    """A receipt and its lines with the inspection's verdicts."""
    from server.errors import AppError

    settings = _settings(config)
    try:
        typer.echo(_receipt_text(receipt_id, settings, _engine(settings)))
    except AppError as exc:
        raise _fail(exc) from exc


FamilyArg = Annotated[str | None, typer.Argument(help="one family only: AGR, RX, CARD, GSP, STAFF, ST or SEC")]


@app.command("rules")
def rules_list(family: FamilyArg = None,
               as_json: Annotated[bool, typer.Option("--json", help="print the rules as JSON")] = False) -> None:
    """List the rules the system enforces (the register of rules.md): ID, title, source in the regulations."""
    from server.rules.register import FAMILIES, RULES

    wanted = family.upper() if family else None
    if wanted is not None and wanted not in FAMILIES:
        typer.echo(f"未知规则类别 / unknown rule family: {family} ({', '.join(FAMILIES)})", err=True)
        raise typer.Exit(2)
    chosen = [r for r in RULES.values() if wanted in (None, r.family)]
    if as_json:
        typer.echo(json.dumps([{"id": r.id, "title_zh": r.title_zh, "title_en": r.title_en, "source": r.source}
                               for r in chosen], ensure_ascii=False, indent=2))
        return
    for r in chosen:
        typer.echo(f"{r.id:<9}{r.title_zh} / {r.title_en}")
        typer.echo(f"{'':9}来源 / source: {r.source}")
    typer.echo(f"{len(chosen)} 条规则 / rules. 各规则的拒绝测试 / the tests that show each refusing: `make rules` "
               "(in the repository)")


@report_app.command("ledger")
def report_ledger(start: Annotated[str | None, typer.Option("--from", help="first business date YYYY-MM-DD "
                                                                    "(default: this month's first)")] = None,
                  end: Annotated[str | None, typer.Option("--to", help="last business date YYYY-MM-DD")] = None,
                  xlsx_path: Annotated[Path | None, typer.Option("--xlsx", help="write the workbook here")] = None,
                  csv_path: Annotated[Path | None, typer.Option("--csv", help="write the CSV (UTF-8, BOM) here")] = None,
                  as_json: Annotated[bool, typer.Option("--json", help="print the whole report as JSON")] = False,
                  fmt: Annotated[str | None, typer.Option("--format", help="write the report as a file: pdf, xlsx "
                                                                           "or csv (to --out)")] = None,
                  out: Annotated[Path | None, typer.Option("--out", "-o", help="the file --format writes "
                                                                               "(default: jxc-FROM-TO.EXT here)")]
                  = None,
                  config: ConfigOpt = None, as_user: AsOpt = None) -> None:
    """进销存 (ST-01) of a period: per item × batch and per item, with the inspector's checks; exits 1 when a check
    fails, so a store can run it from cron. A progress bar while it runs, on a terminal only."""
    from datetime import date

    from reports import ledger
    from reports.export import csv as csv_export
    from reports.export import xlsx
    from reports.layout import configured
    from server.api.reports import period
    from server.cli_progress import progress
    from server.errors import AppError

    settings = _settings(config)
    engine = _engine(settings)
    ctx = _acting(engine, _ctx(settings, engine), as_user, "report.read")
    try:
        first, last = period(date.fromisoformat(start) if start else None, date.fromisoformat(end) if end else None,
                             ctx.today)
    except (ValueError, AppError) as exc:
        raise _fail(exc if isinstance(exc, AppError) else AppError(
            422, "VALIDATION", "日期格式应为 YYYY-MM-DD", "dates are YYYY-MM-DD")) from exc
    if fmt is not None and fmt not in ("pdf", "xlsx", "csv"):
        raise _fail(AppError(422, "VALIDATION", f"不支持的格式 {fmt}：pdf、xlsx 或 csv",
                             f"unknown format {fmt}: pdf, xlsx or csv"))
    with progress("读取账本 / reading the ledger"):
        report = ledger.ledger_report(engine, ctx.store_id, first, last, configured(settings.reports.ledger_layout))
    path = (out or Path(f"jxc-{first.isoformat()}-{last.isoformat()}.{fmt}")) if fmt else None
    if fmt == "xlsx":
        xlsx_path = path
    elif fmt == "csv":
        csv_path = path
    pdf_path = path if fmt == "pdf" else None
    if pdf_path:
        from reports.export import fonts, pdf

        try:
            with progress("生成 PDF / writing the PDF", pdf.rows(report)) as step:
                pdf.write(report, pdf_path, settings.store.name, ctx.now, settings.store.tz, step)
        except fonts.FontMissing as exc:
            raise _fail(AppError(500, "FONT", exc.message_zh, exc.message_en)) from exc
    if xlsx_path:
        xlsx.write(report, xlsx_path)
    if csv_path:
        csv_export.write(report, csv_path)
    verdicts = report.checks.verdicts() if report.checks else {}
    if as_json:
        typer.echo(json.dumps(ledger.as_dict(report), ensure_ascii=False, indent=2))
    else:
        t = report.total
        typer.echo(f"进销存 {first.isoformat()} — {last.isoformat()}: {len(report.items)} 个品种, "
                   f"{len(report.batches)} 个批次")
        typer.echo(f"期初 {t.opening.qty} / 成本 {t.opening.cost / 100:.2f} 元; 入库 {t.total_in(report.layout).qty}; "
                   f"出库 {t.total_out(report.layout).qty}; 期末 {t.closing.qty} / 成本 {t.closing.cost / 100:.2f} 元")
        names = {"stock": "批次销售不超过期初+入库", "card": "医保销售数量=医保结算数量", "counts": "账实差异与盘点单"}
        typer.echo("核查: " + "; ".join(f"{names[k]} {v}" for k, v in verdicts.items()))
        for line in report.checks.lines() if report.checks else []:
            if line[1] != "合格" and not line[2].endswith(("处", "个品种", "笔盘盈盘亏")):
                typer.echo(" · ".join(line))
        if report.unbalanced():
            typer.echo(f"不平: {len(report.unbalanced())} 行 (期初+入库−出库≠期末)")
        for p in (xlsx_path, csv_path, pdf_path):
            if p:
                typer.echo(f"已写入 / written: {p}")
    if report.unbalanced() or "不合格" in verdicts.values():
        raise typer.Exit(1)


def main() -> None:  # pragma: no cover
    app(sys.argv[1:])


from server.cli_care import register as _register_care  # noqa: E402  (count, loss, recall, upkeep, near-expiry)

_register_care(app)
from server.cli_recon import register as _register_recon  # noqa: E402  (reconcile day|month|ack|status)

_register_recon(app)

from server.cli_backup import register as _register_backup  # noqa: E402  (backup, restore)

_register_backup(app)

from server.cli_checklist import register as _register_checklist  # noqa: E402  (checklist, attest, training)

_register_checklist(app)

from server.cli_pdf import register as _register_pdf  # noqa: E402  (pdf receipt, count-sheet, count-result, loss)

_register_pdf(app)
from server.cli_documents import register as _register_documents  # noqa: E402  (documents verify)

_register_documents(app)

from server.cli_inspection import register as _register_inspection  # noqa: E402  (inspection export, verify)

_register_inspection(app)

from server.cli_period import register as _register_period  # noqa: E402  (period close, closes, reopen)

_register_period(app)
from server.cli_money import register as _register_money  # noqa: E402  (receivables, submission)

_register_money(app)

from server.cli_statements import register as _register_statements  # noqa: E402  (report card-statement, rx-statement)

_register_statements(app)
from server.cli_stock_in import register as _register_stock_in  # noqa: E402  (receipt import, transfer)

_register_stock_in(app)
from server.cli_uploads import register as _register_uploads  # noqa: E402  (uploads status|send|retry|replay)

_register_uploads(app)

from server.cli_labels import register as _register_labels  # noqa: E402  (labels print|reprint|stale)

_register_labels(app)

from server.cli_eprx import register as _register_eprx  # noqa: E402  (eprx codes [--qr] [--printer T01])

_register_eprx(app)

from server.cli_office import register as _register_office  # noqa: E402  (office: the back office in a browser)

_register_office(app)

if __name__ == "__main__":  # pragma: no cover
    main()
