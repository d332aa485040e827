"""Which proxy a URL gets: the proxy variables and NO_PROXY, read from a given environment."""

from __future__ import annotations

import pytest
from yarl import URL

from images_async import ConfigurationError
from images_async._proxy import ProxyChoice, ProxyRules

PROXY = "http://proxy.invalid:3128"


def _proxy_for(url: str, **environ: str) -> str | None:
    choice = ProxyRules.from_environment(environ).choose(URL(url))
    return None if choice is None else str(choice.url)


def test_no_variables_no_proxy() -> None:
    rules = ProxyRules.from_environment({})
    assert not rules.any
    assert rules.choose(URL("https://api.openai.com/v1")) is None


def test_the_scheme_picks_the_variable() -> None:
    environ = {"HTTP_PROXY": "http://plain.invalid:1", "HTTPS_PROXY": "http://secure.invalid:2"}
    assert _proxy_for("http://a.invalid/", **environ) == "http://plain.invalid:1"
    assert _proxy_for("https://a.invalid/", **environ) == "http://secure.invalid:2"
    assert _proxy_for("https://a.invalid/", HTTP_PROXY=PROXY) is None
    assert _proxy_for("http://a.invalid/", HTTPS_PROXY=PROXY) is None


def test_all_proxy_is_the_fallback_for_both_schemes() -> None:
    environ = {"ALL_PROXY": "http://all.invalid:1", "HTTPS_PROXY": "http://secure.invalid:2"}
    assert _proxy_for("http://a.invalid/", **environ) == "http://all.invalid:1"
    assert _proxy_for("https://a.invalid/", **environ) == "http://secure.invalid:2"
    assert _proxy_for("https://a.invalid/", all_proxy=PROXY) == PROXY


@pytest.mark.parametrize("name", ["HTTP_PROXY", "ALL_PROXY", "NO_PROXY"])
def test_the_lower_case_spelling_wins(name: str) -> None:
    if name == "NO_PROXY":
        environ = {"HTTP_PROXY": PROXY, "no_proxy": "a.invalid", "NO_PROXY": "b.invalid"}
        assert _proxy_for("http://a.invalid/", **environ) is None
        assert _proxy_for("http://b.invalid/", **environ) == PROXY
        return
    environ = {name.lower(): "http://lower.invalid:1", name: "http://upper.invalid:2"}
    assert _proxy_for("http://a.invalid/", **environ) == "http://lower.invalid:1"


def test_an_empty_lower_case_variable_does_not_hide_the_upper_case_one() -> None:
    assert _proxy_for("http://a.invalid/", http_proxy=" ", HTTP_PROXY=PROXY) == PROXY


def test_host_and_port_alone_means_http() -> None:
    assert _proxy_for("https://a.invalid/", HTTPS_PROXY="proxy.invalid:3128") == PROXY


def test_credentials_are_split_off_and_never_shown() -> None:
    choice = ProxyChoice.of(URL("http://alice:p%40ss@proxy.invalid:3128"))
    assert str(choice.url) == PROXY
    assert choice.authorization == "Basic YWxpY2U6cEBzcw=="  # alice:p@ss
    assert "p@ss" not in repr(choice)
    assert "cEBzcw" not in repr(choice)
    assert ProxyChoice.of(URL(PROXY)).authorization is None


@pytest.mark.parametrize("value", ["socks5://proxy.invalid:1080", "http://", "http://a b:1", "::"])
def test_a_value_that_is_no_proxy_url_names_its_variable(value: str) -> None:
    with pytest.raises(ConfigurationError, match=r"^https_proxy: ") as raised:
        ProxyRules.from_environment({"https_proxy": value, "HTTP_PROXY": PROXY})
    assert raised.value.option == "trust_env"
    assert value not in str(raised.value) or value == "http://"


def test_the_cgi_http_proxy_is_ignored() -> None:
    environ = {"REQUEST_METHOD": "GET", "HTTP_PROXY": PROXY}
    assert _proxy_for("http://a.invalid/", **environ) is None
    environ["http_proxy"] = "http://lower.invalid:1"  # set by the server's own configuration
    assert _proxy_for("http://a.invalid/", **environ) == "http://lower.invalid:1"


def test_an_explicit_proxy_carries_every_url() -> None:
    rules = ProxyRules(explicit=ProxyChoice.of(URL(PROXY)), no_proxy=("*",))
    assert rules.any
    for url in ("http://a.invalid/", "https://127.0.0.1/", "http://[::1]:8080/"):
        choice = rules.choose(URL(url))
        assert choice is not None
        assert str(choice.url) == PROXY


# -- NO_PROXY ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("no_proxy", "url", "bypassed"),
    [
        # names: exact, any case, a trailing dot, domain suffixes however written
        ("api.images.invalid", "http://api.images.invalid/", True),
        ("API.Images.INVALID", "http://api.images.invalid/", True),
        ("api.images.invalid", "http://API.IMAGES.INVALID./", True),
        ("images.invalid", "http://api.images.invalid/", True),
        ("images.invalid", "http://images.invalid/", True),
        (".images.invalid", "http://api.images.invalid/", True),
        (".images.invalid", "http://images.invalid/", True),
        ("*.images.invalid", "http://deep.api.images.invalid/", True),
        ("ages.invalid", "http://api.images.invalid/", False),
        ("api.images.invalid", "http://images.invalid/", False),
        ("other.invalid", "http://api.images.invalid/", False),
        # lists, white space, empty entries, the wildcard
        (" other.invalid , images.invalid ", "http://api.images.invalid/", True),
        (",,", "http://api.images.invalid/", False),
        ("*", "http://anything.invalid/", True),
        ("*", "https://10.1.2.3/", True),
        # ports: only that port (the scheme's default counts)
        ("api.images.invalid:8080", "http://api.images.invalid:8080/", True),
        ("api.images.invalid:8080", "http://api.images.invalid:8081/", False),
        ("api.images.invalid:443", "https://api.images.invalid/", True),
        ("api.images.invalid:80", "https://api.images.invalid/", False),
        (".images.invalid:8080", "http://api.images.invalid:8080/", True),
        # IPv4: exact, CIDR, never as a name suffix
        ("127.0.0.1", "http://127.0.0.1:9/", True),
        ("127.0.0.1:9", "http://127.0.0.1:9/", True),
        ("127.0.0.1:8", "http://127.0.0.1:9/", False),
        ("127.0.0.0/8", "http://127.4.5.6/", True),
        ("10.0.0.0/8", "http://127.0.0.1/", False),
        ("0.0.1", "http://127.0.0.1/", False),
        ("127.0.0.0/8", "http://api.images.invalid/", False),
        ("not-a/network", "http://127.0.0.1/", False),
        # IPv6: bare, bracketed, with a port, CIDR, another spelling of the same address
        ("::1", "http://[::1]:8080/", True),
        ("[::1]", "http://[::1]:8080/", True),
        ("[::1]:8080", "http://[::1]:8080/", True),
        ("[::1]:8081", "http://[::1]:8080/", False),
        ("0:0:0:0:0:0:0:1", "http://[::1]/", True),
        ("fd00::/8", "http://[fd12:3456::1]/", True),
        ("fd00::/8", "http://[fe80::1]/", False),
        ("::1", "http://127.0.0.1/", False),
    ],
)
def test_no_proxy_matching(no_proxy: str, url: str, bypassed: bool) -> None:
    scheme = URL(url).scheme.upper()
    environ = {f"{scheme}_PROXY": PROXY, "NO_PROXY": no_proxy}
    expected = None if bypassed else PROXY
    assert _proxy_for(url, **environ) == expected
