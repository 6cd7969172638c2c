"""``assistant serve``: the web chat and the OpenAI-compatible API on one port."""

from __future__ import annotations

import argparse
import ipaddress
import socket
import sys
import threading
import time

from assistant.app.cli.common import ensure_index, model_flags, settings_from_args
from assistant.app.i18n import from_locale, t
from assistant.errors import AssistantError

LOCAL_HOSTS = ("127.0.0.1", "localhost", "::1")
_T0 = time.perf_counter()  # imported while the command line is parsed: close to the start


def register(sub, common, lang: str = "en") -> None:
    p = sub.add_parser("serve", help=t("h:serve", lang))
    common(p)
    p.add_argument("--host", default="127.0.0.1", help=t("h:serve:host", lang))
    p.add_argument("--port", type=int, default=7860, help=t("h:serve:port", lang))
    p.add_argument("--auth", metavar="USER:PASS", help=t("h:serve:auth", lang))
    model_flags(p, lang=lang)
    p.add_argument("--watch", action="store_true", help=t("h:serve:watch", lang))
    p.set_defaults(func=cmd_serve)


def parse_auth(value: str | None) -> tuple[str, str] | None:
    """``"USER:PASS"`` -> ("USER", "PASS"); the password may itself hold colons."""
    if value is None:
        return None
    user, sep, password = value.partition(":")
    if not sep or not user or not password:
        raise AssistantError("--auth wants USER:PASS, both non-empty.",
                             "For example: --auth ann:correct-horse",
                             zh=("--auth 要写成 USER:PASS，两者都不能为空。",
                                 "例如：--auth ann:correct-horse"))
    return user, password


def is_loopback(host: str) -> bool:
    if host in LOCAL_HOSTS:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_port(host: str, port: int) -> None:
    """Fail early, before models load, when the port is taken."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError as e:
            raise AssistantError(
                f"Cannot listen on {host}:{port} ({e.strerror}).",
                f"Another program uses it: pick another port with --port {port + 1}.",
                zh=(f"无法在 {host}:{port} 上监听（{e.strerror}）。",
                    f"别的程序占用了它：用 --port {port + 1} 换一个端口。"),
            ) from None


def watch_corpus(service):
    """Follow the corpus folder and re-index on changes (``--watch``)."""
    from assistant.ingest.watch import CorpusWatcher

    # The server's own re-index job: a change in the folder and an upload share one queue,
    # and the status line shows either run.
    return CorpusWatcher(service.settings, job=service.reindex).start()


def cmd_serve(args: argparse.Namespace) -> int:

    auth = parse_auth(args.auth)
    settings = settings_from_args(args)
    check_port(args.host, args.port)
    if not is_loopback(args.host) and auth is None:
        print(t("cli_open_host", from_locale(), host=args.host), file=sys.stderr)
    ensure_index(settings)
    from assistant.generate import check_generator

    check_generator(settings)  # a broken model file stops here, not at the first question

    import uvicorn

    from assistant.app.http import create_app

    # The models load once the server listens: the page opens meanwhile, and a question
    # asked before the load ends waits for it.
    app = create_app(settings, auth=auth, watcher=watch_corpus if args.watch else None,
                     warm=False)
    config = uvicorn.Config(app, host=args.host, port=args.port, log_level="warning",
                            ws="none", timeout_graceful_shutdown=3)
    server = uvicorn.Server(config)
    shown = "127.0.0.1" if args.host in ("0.0.0.0", "::") else args.host
    if ":" in shown:
        shown = f"[{shown}]"

    def announce() -> None:
        while not server.started and not server.should_exit:
            time.sleep(0.05)
        if server.started:
            url = f"http://{shown}:{args.port}"
            print(t("cli_ready", from_locale(), sec=time.perf_counter() - _T0, url=url),
                  flush=True)
            app.state.service.warm_in_background()

    threading.Thread(target=announce, daemon=True).start()
    server.run()
    return 0
