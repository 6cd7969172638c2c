"""``assistant pull``, ``assistant models`` and ``assistant doctor`` (registered by cli.py)."""

from __future__ import annotations

import json
from pathlib import Path

from assistant.app.cli.common import setting_flag, settings_from_args
from assistant.app.i18n import from_locale, say, t


def register(sub, common, lang: str = "en") -> None:
    def h(key: str) -> str:
        return t(f"h:{key}", lang)

    p = sub.add_parser("pull", help=h("pull"), description=h("pull:description"))
    common(p)  # gives --embedder NAME and --models-dir
    setting_flag(p, "model", help=h("pull:model"), lang=lang)
    p.add_argument("--all", action="store_true", dest="everything", help=h("pull:all"))
    p.add_argument("--dir", type=Path, dest="models_dir",  # another name for --models-dir
                   help=h("pull:dir"))
    p.add_argument("--no-progress", action="store_true", help=h("pull:no_progress"))
    p.add_argument("--json", action="store_true", help=h("pull:json"))
    p.set_defaults(func=cmd_pull)

    p = sub.add_parser("models", help=h("models"))
    common(p)
    p.add_argument("--dir", type=Path, dest="models_dir", help=h("models:dir"))
    p.add_argument("--json", action="store_true", help=h("models:json"))
    p.set_defaults(func=cmd_models)

    p = sub.add_parser("doctor", help=h("doctor"))
    common(p)
    setting_flag(p, "model", help=h("doctor:model"), lang=lang)
    p.add_argument("--json", action="store_true", help=h("doctor:json"))
    p.add_argument("--strict", action="store_true", help=h("doctor:strict"))
    p.set_defaults(func=cmd_doctor)


def cmd_pull(args) -> int:
    from assistant.hub import pull
    from assistant.hub.presets import get_preset

    settings = settings_from_args(args)
    configured = get_preset(settings.model or "")
    p = pull.plan(
        model=args.model,
        embedder=args.embedder,
        everything=args.everything,
        default_embedder=settings.embedder,
        default_model=None if settings.llm_url else (configured.name if configured else ""),
    )
    lang = from_locale()
    show = None if args.json else (lambda r: print(pull_line(r, lang), flush=True))
    results = pull.pull(p, settings.models_dir, progress=not args.no_progress, on_result=show)
    if args.json:
        print(json.dumps([{**r.__dict__, "path": str(r.path)} for r in results],
                         ensure_ascii=False))
    return 0


def cmd_models(args) -> int:
    from assistant.hub.files import inventory

    settings = settings_from_args(args)
    inv = inventory(settings.models_dir)
    if args.json:
        print(json.dumps(inv, ensure_ascii=False, indent=2))
        return 0
    print(_render_inventory(inv, settings, from_locale()))
    return 0


def _mb(n: int | None) -> str:
    return "" if n is None else f"{n / 1e6:,.0f} MB"


def _render_inventory(inv: dict, settings, lang: str = "en") -> str:
    def say(key: str, **values) -> str:
        return t(key, lang, **values)

    lines = [say("md_folder", dir=inv["models_dir"]), "", say("md_presets")]
    total = inv["memory_mb"]["total"]
    for p in inv["presets"]:
        mark = "*" if p["name"] == settings.model else " "
        where = say("md_present", path=p["path"]) if p["path"] else say("md_absent",
                                                                        repo=p["repo"])
        warn = say("md_too_big") if total and p["ram_mb"] > total else ""
        lines.append(say("md_preset", mark=mark, name=p["name"], dl=p["download_mb"],
                         ram=p["ram_mb"], ctx=p["context"], where=where, warn=warn))
    lines.append(say("md_star"))
    other = [g for g in inv["gguf"]
             if g["path"] not in {p["path"] for p in inv["presets"]}]
    if other:
        lines += ["", say("md_other")]
        lines += [say("md_gguf", path=g["path"], size=_mb(g["size"]),
                      where=say(f"md_where:{g['where']}")) for g in other]
    lines += ["", say("md_embedders")]
    for e in inv["embedders"]:
        mark = "*" if e["name"] == settings.embedder else " "
        size = f"  {_mb(e['size'])}" if e["size"] else ""
        lines.append(say("md_embedder", mark=mark, name=e["name"], path=e["path"], size=size,
                         where=say(f"md_where:{e['where']}")))
    if not any(e["name"] == settings.embedder for e in inv["embedders"]):
        lines.append(say("md_embedder_absent", name=settings.embedder))
    lines += ["", *_tiktoken_lines(inv["tiktoken"], lang)]
    if inv["partial_downloads"]:
        lines += ["", say("md_partial")]
        lines += [f"   {p}" for p in inv["partial_downloads"]]
    mem = inv["memory_mb"]
    if mem["total"]:
        lines += ["", say("md_memory", available=mem["available"], total=mem["total"])]
    return "\n".join(lines)


def _tiktoken_lines(tk: dict, lang: str) -> list[str]:
    lines = [t("md_tiktoken", lang)]
    if tk["found_by_tiktoken"]:
        lines.append("   " + t("md_present", lang, path=tk["tiktoken_looks_at"]))
    elif tk["present"]:
        lines.append(t("md_tiktoken_elsewhere", lang, path=tk["path"],
                       looks=tk["tiktoken_looks_at"], dir=Path(tk["path"]).parent))
    else:
        lines.append(t("md_tiktoken_absent", lang))
    return lines


def pull_line(r, lang: str = "en") -> str:
    """One line for a fetched item (hub/pull.py's ``PullResult``), in ``lang``: in
    English exactly ``r.line()``."""
    size = t("pl_size", lang, mb=r.bytes_fetched / 1e6) if r.bytes_fetched else ""
    note = t("pl_note", lang, note=say(r.note, lang)) if r.note else ""
    what = t(f"pl_status:{r.status}", lang)
    return t("pl_line", lang, kind=t(f"pl_kind:{r.kind}", lang), name=r.name,
             what=r.status if what == f"pl_status:{r.status}" else what, size=size,
             path=r.path, note=note)


def cmd_doctor(args) -> int:
    from assistant.app.doctor import run_doctor_cli

    return run_doctor_cli(settings_from_args(args), json_out=args.json, strict=args.strict,
                          lang=from_locale())
