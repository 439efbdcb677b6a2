"""Per-client rate limiting: 429 with Retry-After, on by default, configurable, right behind a proxy."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from assistant.config import Settings
from assistant.web.app import create_app
from assistant.web.ratelimit import TokenBuckets, client_key


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_bucket_lets_the_burst_through_then_tells_how_long_to_wait() -> None:
    clock = FakeClock()
    buckets = TokenBuckets(per_minute=60, burst=3, clock=clock)  # one request a second after the burst
    assert [buckets.take("a") for _ in range(3)] == [0.0, 0.0, 0.0]
    assert buckets.take("a") == pytest.approx(1.0)
    assert buckets.take("b") == 0.0  # another client has its own bucket
    clock.now += 0.5
    assert buckets.take("a") == pytest.approx(0.5)  # refused requests cost nothing
    clock.now += 0.5
    assert buckets.take("a") == 0.0  # the announced wait was right
    assert buckets.take("a") == pytest.approx(1.0)
    clock.now += 3600
    assert [buckets.take("a") for _ in range(4)][:3] == [0.0, 0.0, 0.0]  # refilled to the burst, no more


def test_health_is_exempt_by_its_exact_path_only(limited: Settings) -> None:
    with client_for(limited) as client:
        assert {client.get("/api/health").status_code for _ in range(10)} == {200}
        assert [client.get("/api/health-x").status_code for _ in range(4)] == [404, 404, 404, 429]


def test_the_number_of_remembered_clients_is_bounded() -> None:
    clock = FakeClock()
    buckets = TokenBuckets(per_minute=60, burst=1, max_clients=100, clock=clock)
    assert buckets.take("first") == 0.0
    for i in range(1000):
        buckets.take(f"10.0.{i // 256}.{i % 256}")
    assert len(buckets) == 100
    assert buckets.take("first") == 0.0  # forgotten, so it starts with a full bucket again
    recent = "10.0.3.231"  # the last one taken above
    assert buckets.take(recent) > 0


def test_an_address_is_forgotten_once_its_bucket_is_full_again() -> None:
    clock = FakeClock()
    buckets = TokenBuckets(per_minute=60, burst=3, clock=clock)  # full again 3 s after the last request
    buckets.take("10.0.0.1")
    clock.now += 2
    buckets.take("10.0.0.2")
    assert len(buckets) == 2
    clock.now += 1.5  # 3.5 s after the first client, 1.5 s after the second
    buckets.take("10.0.0.3")
    assert len(buckets) == 2  # the first is forgotten, the second still counted
    clock.now += 10
    buckets.take("10.0.0.3")
    assert len(buckets) == 1
    assert [buckets.take("10.0.0.4") for _ in range(4)] == [0.0, 0.0, 0.0, pytest.approx(1.0)]


@pytest.mark.parametrize(
    ("host", "key"),
    [
        ("203.0.113.7", "203.0.113.7"),
        ("2001:db8:1:2:aaaa::1", "2001:db8:1:2::/64"),
        ("2001:db8:1:2:ffff:ffff:ffff:ffff", "2001:db8:1:2::/64"),  # same /64: same bucket
        ("::ffff:203.0.113.7", "203.0.113.7"),
        ("testclient", "testclient"),
        (None, "-"),
    ],
)
def test_client_key(host: str | None, key: str) -> None:
    assert client_key(host) == key


def test_buckets_refuse_nonsense_settings() -> None:
    with pytest.raises(ValueError):
        TokenBuckets(per_minute=0, burst=1)


@pytest.fixture(autouse=True)
def frozen_clock(monkeypatch: pytest.MonkeyPatch) -> FakeClock:
    """The limiter's clock stands still in these tests: no token comes back while a test runs, however
    slow the machine, so the statuses below do not depend on timing."""
    clock = FakeClock()
    monkeypatch.setattr("assistant.web.ratelimit.monotonic", clock)
    return clock


@pytest.fixture(scope="module")
def database(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("ratelimit") / "assistant.sqlite3"


def client_for(settings: Settings | FastAPI, address: str = "127.0.0.1") -> TestClient:
    """A test client calling from ``address``."""
    app = settings if isinstance(settings, FastAPI) else create_app(settings)
    return TestClient(app, client=(address, 40000))


@pytest.fixture
def limited(fixture_release: Settings, database: Path) -> Iterator[Settings]:
    yield fixture_release.model_copy(
        update={"database": database, "rate_limit_per_minute": 60, "rate_limit_burst": 3}
    )


def test_over_the_rate_the_api_gets_429_with_retry_after_in_german(limited: Settings) -> None:
    with client_for(limited) as client:
        statuses = [
            client.post("/api/ask", json={"question": "Quartiersfonds"}).status_code for _ in range(3)
        ]
        assert statuses == [200, 200, 200]
        refused = client.post("/api/ask", json={"question": "Quartiersfonds"})
    assert refused.status_code == 429
    assert refused.headers["content-type"] == "application/json"
    assert refused.headers["retry-after"] == "1"
    assert refused.json() == {"detail": "Zu viele Anfragen – bitte in 1 Sekunde erneut versuchen."}
    # Security headers on refusals too.
    assert refused.headers["x-content-type-options"] == "nosniff"
    assert "frame-ancestors 'none'" in refused.headers["content-security-policy"]
    assert refused.headers["referrer-policy"] == "no-referrer"


def test_the_web_chat_gets_a_page_and_static_files_and_health_are_not_counted(limited: Settings) -> None:
    with client_for(limited) as client:
        for _ in range(10):
            assert client.get("/static/app.css").status_code == 200
            assert client.get("/api/health").status_code == 200
        assert [client.get("/").status_code for _ in range(4)] == [200, 200, 200, 429]
        page = client.get("/")
    assert page.status_code == 429 and page.headers["content-type"].startswith("text/html")
    assert "Zu viele Anfragen" in page.text and "<footer" in page.text  # the site's layout
    assert int(page.headers["retry-after"]) >= 1
    assert "script-src 'self'" in page.headers["content-security-policy"]


def test_the_chat_script_gets_a_fragment_for_its_status_line(limited: Settings) -> None:
    """app.js posts with fetch() (Sec-Fetch-Mode: cors) and puts an error answer into its status line."""
    with client_for(limited) as client:
        fetches = [
            client.post(
                "/gespraech", data={"question": "Fonds", "fragment": "1"}, headers={"Sec-Fetch-Mode": "cors"}
            )
            for _ in range(4)
        ]
    assert [r.status_code for r in fetches] == [200, 200, 200, 429]
    assert "Zu viele Anfragen" in fetches[-1].text and "<html" not in fetches[-1].text


def test_clients_are_limited_separately(limited: Settings) -> None:
    app = create_app(limited)
    first = client_for(app, "198.51.100.1")
    second = client_for(app, "198.51.100.2")
    assert [first.get("/api/openapi-probe").status_code for _ in range(4)][-1] == 429
    assert second.get("/").status_code == 200


def test_behind_a_trusted_proxy_the_forwarded_client_counts(limited: Settings) -> None:
    settings = limited.model_copy(update={"trusted_proxies": ["10.0.0.0/8"]})
    app = create_app(settings)
    proxy = client_for(app, "10.1.2.3")

    def via_proxy(forwarded_for: str) -> int:
        return proxy.get("/", headers={"X-Forwarded-For": forwarded_for}).status_code

    # Two people behind the same proxy: each has their own bucket.
    assert [via_proxy("203.0.113.5") for _ in range(4)] == [200, 200, 200, 429]
    assert via_proxy("203.0.113.6") == 200
    # Addresses a client put in front of the header itself do not help: the rightmost untrusted one
    # (the address the proxy saw) counts.
    assert via_proxy("192.0.2.99, 203.0.113.5") == 429
    assert via_proxy("192.0.2.98, 203.0.113.5, 10.9.9.9") == 429  # through a second trusted proxy


def test_forwarded_headers_from_anyone_else_are_ignored(limited: Settings) -> None:
    app = create_app(limited)  # trusts only loopback, the default
    stranger = client_for(app, "198.51.100.9")
    statuses = [
        stranger.get("/", headers={"X-Forwarded-For": f"203.0.113.{i}"}).status_code for i in range(4)
    ]
    assert statuses == [200, 200, 200, 429]  # a new forged address each time: still one bucket


def test_on_by_default_and_can_be_switched_off(fixture_release: Settings, database: Path) -> None:
    defaults = Settings()
    assert defaults.rate_limit_per_minute > 0 and defaults.rate_limit_burst >= 60
    with client_for(fixture_release.model_copy(update={"database": database})) as client:
        statuses = [
            client.get("/api/openapi-probe").status_code for _ in range(defaults.rate_limit_burst + 5)
        ]
    assert statuses == [404] * defaults.rate_limit_burst + [429] * 5
    off = fixture_release.model_copy(update={"database": database, "rate_limit_per_minute": 0})
    with client_for(off) as client:
        assert {client.get("/api/openapi-probe").status_code for _ in range(300)} == {404}


def test_rate_limit_settings_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ASSISTANT_RATE_LIMIT_PER_MINUTE", "30")
    monkeypatch.setenv("ASSISTANT_RATE_LIMIT_BURST", "5")
    monkeypatch.setenv("ASSISTANT_TRUSTED_PROXIES", '["10.0.0.1", "fd00::/8"]')
    settings = Settings()
    assert (settings.rate_limit_per_minute, settings.rate_limit_burst) == (30, 5)
    assert settings.trusted_proxies == ["10.0.0.1", "fd00::/8"]


def test_serve_leaves_forwarded_headers_to_the_app(
    fixture_release: Settings, database: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """uvicorn would otherwise trust X-Forwarded-For from 127.0.0.1 on its own, whatever is configured."""
    from assistant import cli

    captured: dict[str, object] = {}
    monkeypatch.setattr("uvicorn.run", lambda app, **options: captured.update(options))
    settings = fixture_release.model_copy(update={"database": database, "max_connections": 77})
    assert cli.cmd_serve(settings) == 0
    assert captured["proxy_headers"] is False and captured["limit_concurrency"] == 77
