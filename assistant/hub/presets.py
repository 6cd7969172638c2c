"""Model presets: the local GGUF models the assistant knows by name.

Each preset is one Q4_K_M file on the Hugging Face hub. Sizes are approximate and meant
for people choosing a model (``assistant pull``, ``assistant doctor``); the context is
what we ask llama.cpp for, well below each model's trained context, because on a CPU
laptop every extra prompt token costs time before the first word appears.
"""

from __future__ import annotations

from dataclasses import dataclass

# Phi-2 is a base model with a documented "Instruct: ... Output:" format and no template
# in its GGUF; without this llama-cpp-python would fall back to Llama-2's [INST] format.
PHI2_TEMPLATE = (
    "{% for m in messages %}"
    "{% if m['role'] == 'system' %}{{ m['content'] }}\n\n"
    "{% elif m['role'] == 'user' %}Instruct: {{ m['content'] }}\n"
    "{% else %}Output: {{ m['content'] }}\n{% endif %}"
    "{% endfor %}"
    "{% if add_generation_prompt %}Output:{% endif %}"
)


@dataclass(frozen=True)
class Preset:
    name: str  # what users type: --model NAME
    label: str  # shown in the UI
    repo_id: str  # Hugging Face repository
    filename: str  # the GGUF file inside it
    download_mb: int  # approximate file size
    ram_mb: int  # approximate resident memory at ``context_length``
    context_length: int  # context to allocate (tokens)
    chat_template: str | None = None  # only for GGUFs that carry none in their metadata
    stop: tuple[str, ...] = ()  # extra stop strings the template's end token misses


PRESETS: dict[str, Preset] = {
    p.name: p
    for p in (
        Preset(
            name="qwen2.5-1.5b-instruct",
            label="Qwen2.5-1.5B-Instruct (Q4_K_M)",
            repo_id="Qwen/Qwen2.5-1.5B-Instruct-GGUF",
            filename="qwen2.5-1.5b-instruct-q4_k_m.gguf",
            download_mb=1120,
            ram_mb=1600,
            context_length=4096,
        ),
        Preset(
            name="qwen2-1.5b-instruct",
            label="Qwen2-1.5B-Instruct (Q4_K_M)",
            repo_id="Qwen/Qwen2-1.5B-Instruct-GGUF",
            filename="qwen2-1_5b-instruct-q4_k_m.gguf",
            download_mb=990,
            ram_mb=1500,
            context_length=4096,
        ),
        Preset(
            name="gemma-2-2b-it",
            label="Gemma-2-2B-it (Q4_K_M)",
            repo_id="bartowski/gemma-2-2b-it-GGUF",
            filename="gemma-2-2b-it-Q4_K_M.gguf",
            download_mb=1710,
            ram_mb=2600,
            context_length=4096,
        ),
        Preset(
            name="phi-2",
            label="Phi-2 (Q4_K_M)",
            repo_id="TheBloke/phi-2-GGUF",
            filename="phi-2.Q4_K_M.gguf",
            download_mb=1790,
            ram_mb=2500,
            context_length=2048,  # phi-2 was trained with 2048
            chat_template=PHI2_TEMPLATE,
            stop=("\nInstruct:", "\nUser:"),
        ),
    )
}

DEFAULT_PRESET = "qwen2.5-1.5b-instruct"


def get_preset(name: str) -> Preset | None:
    """The preset called ``name`` (case-insensitive), or None."""
    return PRESETS.get(name.strip().lower())
