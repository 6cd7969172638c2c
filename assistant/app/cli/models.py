"""``assistant pull``, ``assistant models`` and ``assistant doctor`` (registered by cli.py)."""

from __future__ import annotations

import json
from pathlib import Path

from assistant.app.cli.common import setting_flag, settings_from_args


def register(sub, common) -> None:
    p = sub.add_parser(
        "pull",
        help="download models into models/ (needs a network)",
        description="Download the chat model (a GGUF preset), the embedder and tiktoken's "
        "file into the models folder, with progress bars, resume and checksums. With no "
        "flags: the configured preset, the configured embedder and tiktoken.",
    )
    common(p)  # gives --embedder NAME and --models-dir
    setting_flag(p, "model", help="the preset to download (see `assistant models`)")
    p.add_argument("--all", action="store_true", dest="everything",
                   help="every model preset, the embedder and tiktoken")
    p.add_argument("--dir", type=Path, dest="models_dir",  # another name for --models-dir
                   help="download into DIR instead of the models folder")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    p.add_argument("--json", action="store_true", help="print what was fetched as JSON")
    p.set_defaults(func=cmd_pull)

    p = sub.add_parser("models", help="what models are on disk, what each preset needs")
    common(p)
    p.add_argument("--dir", type=Path, dest="models_dir", help="the models folder to list")
    p.add_argument("--json", action="store_true", help="print the inventory as JSON")
    p.set_defaults(func=cmd_models)

    p = sub.add_parser("doctor", help="check versions, models, the index, disk and CPU")
    common(p)
    setting_flag(p, "model", help="the chat model to check")
    p.add_argument("--json", action="store_true", help="print the checks as JSON")
    p.add_argument("--strict", action="store_true", help="exit 1 on warnings too")
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
    show = None if args.json else (lambda r: print(r.line(), flush=True))
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
    print(_render_inventory(inv, settings))
    return 0


def _mb(n: int | None) -> str:
    return "" if n is None else f"{n / 1e6:,.0f} MB"


def _render_inventory(inv: dict, settings) -> str:
    lines = [f"models folder: {inv['models_dir']}", "", "chat model presets:"]
    total = inv["memory_mb"]["total"]
    for p in inv["presets"]:
        mark = "*" if p["name"] == settings.model else " "
        where = f"present: {p['path']}" if p["path"] else f"not on disk ({p['repo']})"
        warn = "  (more than this machine has)" if total and p["ram_mb"] > total else ""
        lines.append(f" {mark} {p['name']:<22} download {p['download_mb']:>5} MB, "
                     f"memory ~{p['ram_mb']} MB at {p['context']} tokens; {where}{warn}")
    lines.append("   (* = configured; `assistant pull --model NAME` downloads one)")
    other = [g for g in inv["gguf"]
             if g["path"] not in {p["path"] for p in inv["presets"]}]
    if other:
        lines += ["", "other GGUF files:"]
        lines += [f"   {g['path']}  {_mb(g['size'])} ({g['where']})" for g in other]
    lines += ["", "embedders:"]
    for e in inv["embedders"]:
        mark = "*" if e["name"] == settings.embedder else " "
        size = f"  {_mb(e['size'])}" if e["size"] else ""
        lines.append(f" {mark} {e['name']:<45} {e['where']}: {e['path']}{size}")
    if not any(e["name"] == settings.embedder for e in inv["embedders"]):
        lines.append(f"   configured {settings.embedder}: not on disk "
                     f"(`assistant pull --embedder {settings.embedder}`)")
    tk = inv["tiktoken"]
    lines += ["", "tiktoken cl100k_base:"]
    if tk["found_by_tiktoken"]:
        lines.append(f"   present: {tk['tiktoken_looks_at']}")
    elif tk["present"]:
        lines.append(f"   in {tk['path']}, but tiktoken looks at {tk['tiktoken_looks_at']} "
                     f"(set TIKTOKEN_CACHE_DIR={Path(tk['path']).parent})")
    else:
        lines.append("   not on disk (`assistant pull` fetches it; without it chunks are "
                     "counted with the embedder's tokenizer)")
    if inv["partial_downloads"]:
        lines += ["", "unfinished downloads (`assistant pull` resumes them):"]
        lines += [f"   {p}" for p in inv["partial_downloads"]]
    mem = inv["memory_mb"]
    if mem["total"]:
        lines += ["", f"memory: {mem['available']:,} MB available of {mem['total']:,} MB"]
    return "\n".join(lines)


def cmd_doctor(args) -> int:
    from assistant.app.doctor import run_doctor_cli
    from assistant.app.i18n import from_locale

    return run_doctor_cli(settings_from_args(args), json_out=args.json, strict=args.strict,
                          lang=from_locale())
