"""The settings controls' choices and limits, taken from the settings themselves."""

from __future__ import annotations

from pathlib import Path

from assistant.app.i18n import t


def model_choices(current: str, models_dir: str | Path, lang: str = "zh") -> list[tuple[str, str]]:
    """The dropdown's (label, value) pairs. A preset that is not on disk says so: choosing
    it answers by quoting, as the status line then shows, until it is pulled."""
    from assistant.hub.files import find_model_file
    from assistant.hub.presets import PRESETS

    def label(p) -> str:
        return p.label if find_model_file(p, models_dir) else \
            t("not_downloaded", lang, label=p.label)

    choices = [(t("extractive_choice", lang), "extractive")]
    choices += [(label(p), p.name) for p in PRESETS.values()]
    if model_value(current) == current and current not in PRESETS and current.strip():
        missing = find_model_file(current, models_dir) is None  # a .gguf path
        choices.append((t("not_found", lang, label=current) if missing else current, current))
    return choices


def model_value(model: str) -> str:
    """The dropdown value for a configured model: "none" is "extractive", "Phi-2" is
    "phi-2"; a path stays as it is."""
    from assistant.generate import NO_MODEL
    from assistant.hub.presets import PRESETS

    if model.strip().lower() in NO_MODEL:
        return "extractive"
    return model.lower() if model.lower() in PRESETS else model


def bounds(name: str) -> tuple[float | None, float | None]:
    """A setting's (ge, le) bounds, so the sliders follow the settings' own limits."""
    from assistant.settings import Settings

    lo = hi = None
    for m in Settings.model_fields[name].metadata:
        lo = getattr(m, "ge", lo)
        hi = getattr(m, "le", hi)
    return lo, hi
