"""The web tests run real servers (uvicorn in a thread, Gradio's queue) and browsers:
their event loops and the loops' socket pairs are closed by the libraries at interpreter
exit, not when a test's server stops, and Python reports each as a ResourceWarning when
the garbage collector finds it (often during a later test). Not a leak of ours: named
here, for runs that collect these tests."""

from __future__ import annotations

UNCLOSED = (r"unclosed (<socket\.socket|event loop <_UnixSelectorEventLoop)",)


def pytest_configure(config):
    for message in UNCLOSED:
        config.addinivalue_line("filterwarnings", f"ignore:{message}:ResourceWarning")
        config.addinivalue_line(
            "filterwarnings",
            "ignore:Exception ignored in. <socket.socket:pytest.PytestUnraisableExceptionWarning")


def pytest_sessionfinish(session):
    # What is left of the servers' loops is collected now, under the filters above,
    # not at pytest's exit, where no filter applies any more.
    import gc
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ResourceWarning)
        gc.collect()
