"""What every ``assistant`` command shares: flags made from the Settings fields they set
(so a default and its help are written once, in ``assistant/settings.py``), the settings
read from them, the index built on first use, and errors as JSON for ``--json``."""

from __future__ import annotations

import argparse
import json
import sys
import types
import typing
from pathlib import Path

from assistant import notices, store
from assistant.app import i18n
from assistant.ingest.indexer import run_index
from assistant.settings import Settings, load_settings

NOTICES_FILE = "notices-printed.json"  # each notice once per index and model, not per call


def setting_flag(p: argparse.ArgumentParser, field: str, *flags: str, help: str | None = None,
                 lang: str = "en", **kwargs) -> None:
    """A flag for the Settings field ``field``: its type, and its description and default
    as the help (``help`` adds what is particular to this command). Not given, it stays
    None, so assistant.toml and ASSISTANT_* still apply. In Chinese (``lang="zh"``) the
    description is the table's ``field:<name>`` (i18n.py), when it has one."""
    info = Settings.model_fields[field]
    description = (info.description or "").rstrip(".")
    if lang == "zh" and f"field:{field}" in i18n.STRINGS:
        description = i18n.t(f"field:{field}", lang)
    default = info.default
    shown = "" if default in (None, "") else i18n.t("h:default", lang, default=default)
    text = i18n.t("h:join", lang, help=help, description=description) if help else description
    p.add_argument(*(flags or ("--" + field.replace("_", "-"),)), dest=field, default=None,
                   type=_flag_type(info.annotation), help=f"{text}{shown}", **kwargs)


def _flag_type(annotation) -> type:
    """The argparse type of a field's (resolved) annotation: Path, int, float or str."""
    args = [a for a in typing.get_args(annotation) if a is not type(None)]
    if isinstance(annotation, types.UnionType) or typing.get_origin(annotation) is typing.Union:
        annotation = args[0]
    if typing.get_origin(annotation) is typing.Literal:
        return str
    return annotation if annotation in (int, float, Path) else str


def common_flags(p: argparse.ArgumentParser, lang: str = "en") -> None:
    """The folders and the embedder: every command that reads the index takes them."""
    setting_flag(p, "corpus", lang=lang)
    setting_flag(p, "index", lang=lang)
    setting_flag(p, "embedder", lang=lang)
    setting_flag(p, "models_dir", "--models-dir", lang=lang)


def model_flags(p: argparse.ArgumentParser, *, server_model: bool = True,
                lang: str = "en") -> None:
    """Which model answers: a local one (--model) or a server (--llm-url)."""
    setting_flag(p, "model", lang=lang)
    setting_flag(p, "llm_url", "--llm-url", lang=lang)
    if server_model:
        setting_flag(p, "llm_model", "--llm-model", lang=lang)


def settings_from_args(args: argparse.Namespace) -> Settings:
    """Settings from defaults, assistant.toml, ASSISTANT_* env and the flags given."""
    settings = load_settings(**{k: v for k, v in vars(args).items()
                                if k in Settings.model_fields})
    notices.remember_in(Path(settings.index) / NOTICES_FILE, _notice_state(settings))
    notices.wording = i18n.notice_wording(settings, i18n.from_locale())
    return settings


def _notice_state(settings: Settings) -> str:
    """What a notice depends on: the models asked for, the files in the models folder,
    and the index's last run (its manifest is rewritten by each run that changed it)."""
    models = Path(settings.models_dir)
    files = sorted(p.name for p in models.glob("*.gguf")) if models.is_dir() else []
    manifest = Path(settings.index) / "manifest.json"
    stamp = manifest.stat().st_mtime_ns if manifest.exists() else 0
    return json.dumps([settings.model, settings.llm_url, settings.embedder, files, stamp])


def ensure_index(settings: Settings) -> None:
    """Build the index first when there is none, so a first search just works."""
    if not (settings.index / store.DB_NAME).exists():
        print(i18n.t("cli_no_index_yet", i18n.from_locale(), index=settings.index,
                     corpus=settings.corpus), file=sys.stderr)
        run_index(settings)


def json_error(args: argparse.Namespace, message: str, hint: str | None = None) -> bool:
    """With ``--json``, print the failure as one JSON object on stdout and return True:
    a script reading stdout expects JSON whatever happened."""
    if not getattr(args, "json", False):
        return False
    print(json.dumps({"error": message, **({"hint": hint} if hint else {})},
                     ensure_ascii=False))
    return True
