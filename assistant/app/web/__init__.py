"""The web chat (Gradio): streamed answers whose [n] open the passage they cite.

- :mod:`.page`: the layout, its words in the reader's language, its events;
- :mod:`.turn`: one answer's events as screen updates, the wait made visible;
- :mod:`.render`: the HTML of answers, source cards (one per distinct passage) and the
  sources panel, every document character escaped;
- :mod:`.status_line`: the calm status line and its details;
- :mod:`.examples`, :mod:`.controls`, :mod:`.assets`: example questions, the settings'
  choices, the CSS and the page's script.
"""

from assistant.app.web.assets import CSS, HEAD, theme
from assistant.app.web.page import build_ui

__all__ = ["CSS", "HEAD", "build_ui", "theme"]
