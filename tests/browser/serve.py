"""`chatql serve` in a real browser (Debian's chromium through selenium): the list, a search
and a thread at desktop (1280 px) and phone (390 px) widths, over the shipped testdata and a
hostile export whose texts are script tags, event handlers and javascript: links.

Each page must: load with status text in place, have no horizontal overflow, log no console
error, and run none of the planted payloads (each would open an alert or set a global).
Screenshots go to $CHATQL_SHOTS (default /tmp/chatql-shots) to look at.

    /usr/bin/python3 tests/browser/serve.py path/to/chatql
"""
import os
import subprocess
import sys

from selenium import webdriver
from selenium.common.exceptions import NoAlertPresentException
from selenium.webdriver.chrome.service import Service

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def main():
    binary = sys.argv[1]
    shots = os.environ.get("CHATQL_SHOTS", "/tmp/chatql-shots")
    os.makedirs(shots, exist_ok=True)
    server = subprocess.Popen(
        [binary, "serve", os.path.join(ROOT, "testdata"),
         os.path.join(ROOT, "tests/data/serve/hostile.jsonl"), "--port", "0", "-q"],
        stdout=subprocess.PIPE, text=True)
    try:
        url = server.stdout.readline().strip()
        assert url.startswith("http://127.0.0.1:"), url
        run(url, shots)
    finally:
        server.terminate()
        server.wait()


def run(url, shots):
    opts = webdriver.ChromeOptions()
    opts.binary_location = "/usr/bin/chromium"
    for a in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
              "--disable-component-update", "--disable-sync", "--no-first-run"):
        opts.add_argument(a)
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=opts)
    pages = {
        "list": ("", "questions"),
        "search": ("?q=resistor", "sorted by relevance"),
        "hostile": ("?q=alert", "&lt;script&gt;"),
        "thread": ("c/2b000000-0000-4000-8000-000000002001", "finite state machine"),
        "hostile-thread": ("c/evil-1%22'%3E%3Cscript%3Ealert(2)%3C%2Fscript%3E", "alert(1)"),
        "report": ("report", 'href="/?course=ECE120"'),
        "negative": ("?course=ECE120&feedback=down", "questions"),
        "topics": ("topics", '← Questions</a>'),
        "topic": ("?topic=1", "every topic"),
    }
    failures = []
    try:
        for width, height in ((1280, 900), (390, 844)):
            driver.set_window_size(width, height)
            for name, (path, text) in pages.items():
                driver.get(url + path)
                src = driver.page_source
                where = f"{name} at {width}px"
                if text not in src:
                    failures.append(f"{where}: {text!r} not on the page")
                try:
                    driver.switch_to.alert
                    failures.append(f"{where}: a planted script ran (an alert is open)")
                except NoAlertPresentException:
                    pass
                over = driver.execute_script(
                    "return document.documentElement.scrollWidth - window.innerWidth")
                if over > 0:
                    failures.append(f"{where}: {over} px of horizontal overflow")
                errors = [e for e in driver.get_log("browser") if e["level"] == "SEVERE"]
                if errors:
                    failures.append(f"{where}: console errors {errors}")
                driver.save_screenshot(os.path.join(shots, f"{name}-{width}.png"))
    finally:
        driver.quit()
    if failures:
        print("\n".join(failures))
        sys.exit(1)
    print(f"browser: {len(pages) * 2} pages checked, screenshots in {shots}")


if __name__ == "__main__":
    main()
