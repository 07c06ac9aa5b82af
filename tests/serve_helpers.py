"""A real ``newsletter serve`` (uvicorn) in a process of its own, on a loopback port.

The service believes it is ``https://news.example.org/`` behind a reverse proxy: requests
carry that Host and ``X-Forwarded-Proto: https`` from 127.0.0.1, which uvicorn trusts (its
``forwarded_allow_ips``), as it would behind Caddy or nginx on the same machine.
"""

from __future__ import annotations

import os
import re
import signal
import sqlite3
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from newsletter.tokens import Tokens, secret_from_env

HOST = "news.example.org"
PUBLIC = f"https://{HOST}/"
PROXIED = {"Host": HOST, "X-Forwarded-Proto": "https", "X-Forwarded-For": "192.0.2.10"}


def service_config(root: Path, **keys: Any) -> None:
    """Add a ``[service]`` table (url and ``keys``) to the workspace's newsletter.toml."""
    lines = ["", "[service]", f'url = "{PUBLIC}"']
    for key, value in keys.items():
        if isinstance(value, list):
            lines.append(f"{key} = [{', '.join(repr(v) for v in value)}]")
        else:
            lines.append(f"{key} = {value!r}" if isinstance(value, int) else f'{key} = "{value}"')
    config = root / "newsletter.toml"
    text = config.read_text(encoding="utf-8").split("\n[service]\n")[0]  # replaced, if any
    config.write_text(text + "\n".join(lines) + "\n", encoding="utf-8")


@dataclass
class Service:
    """A running service process and how to reach it."""

    process: subprocess.Popen[bytes]
    port: int
    root: Path
    log: Path

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def local(self, url: str) -> str:
        """A public link (from a mail) as a URL of this process."""
        assert url.startswith(PUBLIC), url
        return f"{self.base}/{url[len(PUBLIC):]}"

    def client(self, **kwargs: Any) -> httpx.Client:
        return httpx.Client(base_url=self.base, headers=PROXIED, timeout=30, **kwargs)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def kill(self) -> None:
        self.process.send_signal(signal.SIGKILL)
        self.process.wait()


def start_service(root: Path, *, smtp_url: str = "", port: int, workers: int = 1,
                  database_url: str | None = None) -> Service:
    """Start ``newsletter serve`` in ``root`` and wait until it answers (every worker)."""
    env = dict(os.environ, NEWSLETTER_SMTP_URL=smtp_url)
    if database_url:
        env["NEWSLETTER_DATABASE_URL"] = database_url
    log = root / f"serve-{port}.log"
    with log.open("wb") as handle:
        process = subprocess.Popen(
            [sys.executable, "-m", "newsletter", "serve", "--port", str(port),
             "--no-access-log", "--workers", str(workers)], cwd=root, env=env, stdout=handle,
            stderr=subprocess.STDOUT)
    service = Service(process, port, root, log)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"serve exited: {log.read_text(encoding='utf-8')}")
        try:
            started = log.read_text(encoding="utf-8").count("Application startup complete")
            if httpx.get(f"{service.base}/health", timeout=1).status_code == 200 and \
                    started >= workers:
                return service
        except httpx.TransportError:
            pass
        time.sleep(0.05)
    service.kill()
    raise AssertionError(f"serve did not start: {log.read_text(encoding='utf-8')}")


def form(client: httpx.Client, path: str) -> tuple[str, str]:
    """GET a form page: (the CSRF cookie, the CSRF field)."""
    page = client.get(path)
    assert page.status_code == 200, page.text
    cookie = page.cookies.get("nl_csrf") or ""
    field = re.search(r'name="csrf" value="([0-9a-f]+)"', page.text)
    assert cookie
    assert field
    return cookie, field.group(1)


def tokens() -> Tokens:
    return Tokens(secret_from_env())


def events(root: Path, database_url: str | None = None) -> list[tuple[str, str, str, str]]:
    """Every row of the record but the service's own ``mailed`` ones (a mail was accepted,
    written as the relay answers, so at no fixed point of a test): (address, event, list,
    source). From PostgreSQL when ``database_url`` is given."""
    if database_url:
        import psycopg

        with psycopg.connect(database_url) as pg:
            return pg.execute("SELECT address, event, list_name, source FROM events "
                              "WHERE event != 'mailed' ORDER BY id").fetchall()
    path = root / "subscribers" / "record.sqlite"
    if not path.exists():
        return []
    db = sqlite3.connect(path)
    try:
        return db.execute("SELECT address, event, list_name, source FROM events "
                          "WHERE event != 'mailed' ORDER BY id").fetchall()
    finally:
        db.close()


def links_in(message: Any) -> list[str]:
    """The service links in a mail's text."""
    body = message.get_body(("plain",)).get_content()
    return re.findall(re.escape(PUBLIC) + r"[^\s>\"]+", body)
