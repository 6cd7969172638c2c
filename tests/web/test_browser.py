"""The chat in a real browser: headless Chromium (Debian's) driven by Selenium.

Ask a question from the corpus, watch the answer stream in, click its citation, read
the passage in the source card; a document holding <script> runs nothing. Screenshots
go to the test's tmp dir, and a copy of each to ``bench/out/`` for people to look at.
"""

from __future__ import annotations

import shutil
import sys
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "data" / "web"))
pytest_plugins = ["webfixtures"]

pytestmark = pytest.mark.slow

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
OUT = Path(__file__).resolve().parents[2] / "bench" / "out"
TOKEN_DELAY = 0.02  # seconds between tokens: a model's pace, so streaming can be seen


class PacedAssistant:
    """The shared assistant with its tokens spaced out like a model's."""

    def __init__(self, inner):
        self.inner = inner

    def stream(self, question, history=None):
        for event in self.inner.stream(question, history):
            if event.kind == "token":
                time.sleep(TOKEN_DELAY)
            yield event


@pytest.fixture(scope="module")
def url(web_service):
    from webfixtures import RunningServer

    from assistant.app.server import Service, create_app

    service = Service(web_service.settings, lambda _: PacedAssistant(web_service.assistant))
    with RunningServer(create_app(web_service.settings, service=service)) as server:
        yield server.url


@pytest.fixture(scope="module")
def driver(tmp_path_factory):
    if not CHROMIUM.exists() or not CHROMEDRIVER.exists():
        pytest.skip("needs Debian's chromium and chromium-driver (./install.sh --dev)")
    webdriver = pytest.importorskip("selenium.webdriver")
    from selenium.webdriver.chrome.service import Service

    opts = webdriver.ChromeOptions()
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--disable-background-networking", "--disable-component-update",
                "--disable-sync", "--no-first-run", "--window-size=1400,1000"):
        opts.add_argument(arg)
    opts.add_argument(f"--user-data-dir={tmp_path_factory.mktemp('chromium-profile')}")
    opts.binary_location = str(CHROMIUM)
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    drv = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=opts)
    drv.set_page_load_timeout(60)
    yield drv
    drv.quit()


def wait(drv, check, timeout=60):
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(drv, timeout, poll_frequency=0.05).until(lambda d: check(d))


# Records every text the newest answer shows, so the test can see it grow.
WATCH_ANSWER = """
window.__seen = [];
const chat = document.querySelector('#chat');
new MutationObserver(() => {
  const bots = chat.querySelectorAll('.bot .message-content, [data-testid="bot"]');
  const last = bots[bots.length - 1];
  if (last) window.__seen.push(last.innerText);
}).observe(chat, {childList: true, subtree: true, characterData: true});
"""


def ask(drv, url, question, theme="light"):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    drv.get(f"{url}/?__theme={theme}")
    box = wait(drv, lambda d: d.find_element(By.CSS_SELECTOR, "#question textarea"))
    wait(drv, lambda d: "passages" in d.find_element(By.ID, "status-line").text)
    drv.execute_script(WATCH_ANSWER)
    box.send_keys(question)
    box.send_keys(Keys.ENTER)
    # Done when the list of cited passages appears under the answer.
    wait(drv, lambda d: d.find_elements(By.CSS_SELECTOR, "#chat .cited a.cite"))


def open_first_citation(drv):
    from selenium.webdriver.common.by import By

    link = drv.find_elements(By.CSS_SELECTOR, "#chat a.cite")[0]
    target = link.get_attribute("href").split("#", 1)[1]
    link.click()
    card = wait(drv, lambda d: d.find_element(By.ID, target))
    wait(drv, lambda d: card.get_attribute("open") is not None and card.is_displayed())
    return card


def screenshot(drv, tmp_path, name):
    path = tmp_path / name
    drv.save_screenshot(str(path))
    OUT.mkdir(parents=True, exist_ok=True)
    shutil.copy(path, OUT / name)
    return path


def test_ask_stream_cite_and_open_the_passage(driver, url, tmp_path):
    from selenium.webdriver.common.by import By

    ask(driver, url, "vLLM 是哪个机构开发的？")
    answer = driver.find_elements(By.CSS_SELECTOR, "#chat .bot, #chat [data-testid='bot']")[-1]
    final = answer.text
    assert "UC Berkeley" in final
    seen = [s for s in driver.execute_script("return window.__seen") if s.strip()]
    partial = [s for s in seen if 0 < len(s.strip()) < len(final.strip()) and "…" not in s]
    assert partial, f"the answer arrived in one piece: {seen[:5]}"

    card = open_first_citation(driver)
    assert "inference.md" in card.text
    assert "vLLM" in card.text and "line 5" in card.text
    passage = card.find_element(By.CSS_SELECTOR, ".passage")
    assert "UC Berkeley" in passage.text
    marks = [m.text for m in passage.find_elements(By.TAG_NAME, "mark")]
    assert any(m.lower() == "vllm" for m in marks), marks
    shot = screenshot(driver, tmp_path, "ui.png")
    assert shot.stat().st_size > 10_000

    # The card's link opens the file at the cited lines, inside the corpus.
    href = card.find_element(By.CSS_SELECTOR, "a.open").get_attribute("href")
    driver.get(href)
    highlighted = driver.find_elements(By.CSS_SELECTOR, "tr.hl")
    assert highlighted and any("UC Berkeley" in row.text for row in highlighted)

    severe = [e for e in driver.get_log("browser")
              if e["level"] == "SEVERE" and "favicon" not in e["message"]]
    assert not severe, severe


def test_dark_theme_and_english(driver, url, tmp_path):
    from selenium.webdriver.common.by import By

    ask(driver, url, "What does LoRA freeze?", theme="dark")
    assert driver.execute_script("return document.body.classList.contains('dark')")
    card = open_first_citation(driver)
    assert "finetuning.md" in card.text
    # Readable: the passage's text colour differs enough from its card's background.
    fg, bg = driver.execute_script(
        "const p = arguments[0].querySelector('.passage');"
        "return [getComputedStyle(p).color, getComputedStyle(arguments[0]).backgroundColor]",
        card,
    )
    assert _luminance(fg) > 0.5 > _luminance(bg), (fg, bg)
    screenshot(driver, tmp_path, "ui-dark.png")
    assert driver.find_elements(By.CSS_SELECTOR, "#chat .cited")


def test_document_markup_runs_nothing(driver, url, tmp_path):
    from selenium.webdriver.common.by import By

    ask(driver, url, "zyzzyva password")
    card = open_first_citation(driver)
    assert "evil.md" in card.text
    text = card.find_element(By.CSS_SELECTOR, ".passage").text
    assert "<script>window.__pwned = 1</script>" in text
    assert 'onerror="window.__pwned = 2"' in text
    assert not card.find_elements(By.TAG_NAME, "img")
    assert not card.find_elements(By.TAG_NAME, "script")
    time.sleep(0.5)
    assert driver.execute_script("return window.__pwned") is None
    screenshot(driver, tmp_path, "ui-xss.png")


def _luminance(css: str) -> float:
    parts = [float(x) for x in css[css.index("(") + 1 : css.index(")")].split(",")[:3]]
    return sum(w * c / 255 for w, c in zip((0.2126, 0.7152, 0.0722), parts, strict=True))
