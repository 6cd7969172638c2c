"""The app users reach: one FastAPI app carrying the HTTP API, the chat page at ``/`` and
the source viewer, over one :class:`~assistant.app.server.Service`.

    >>> app = create_app(load_settings())          # doctest: +SKIP
    >>> uvicorn.run(app, host="127.0.0.1", port=7860)  # doctest: +SKIP
"""

from __future__ import annotations

import os
from collections.abc import Callable

from assistant.app import api, web
from assistant.app.server import Service, Watcher
from assistant.ingest.indexer import max_file_bytes
from assistant.settings import Settings


def create_app(settings: Settings, *, auth: tuple[str, str] | None = None,
               assistant_factory: Callable | None = None, watcher: Watcher | None = None,
               service: Service | None = None, warm: bool = True):
    """The FastAPI app: HTTP API routes first, the Gradio chat mounted at ``/``.

    ``watcher``, when given, is called once as ``watcher(service)`` and may return an
    object with a ``running`` attribute (shown in the status line); it should call
    ``service.index_changed(report)`` after each index run it makes, or
    ``service.start_reindex()`` to have the server make one. ``warm=False`` leaves the
    models to :meth:`Service.warm_in_background` (or to the first question).
    """
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    import gradio as gr
    from fastapi import FastAPI

    service = service or Service(settings, assistant_factory, auth=auth, warm=warm)
    app = FastAPI(title="assistant", docs_url=None, redoc_url=None, openapi_url=None)
    app.state.service = service
    api.install(app, service)
    demo = web.build_ui(service)
    gr.mount_gradio_app(
        app,
        demo,
        path="/",
        footer_links=["api"],
        run_history=False,
        max_file_size=max_file_bytes(),  # what the indexer takes
        show_error=True,
        theme=web.theme(),
        css=web.CSS,
        head=web.HEAD,
        allowed_paths=[],
    )
    if watcher is not None:
        service.watcher = watcher(service)
    return app
