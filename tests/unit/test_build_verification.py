"""Host settings that would make a build accept what it cannot verify are refused by name; a
mirror or a proxy is not one of them."""

from __future__ import annotations

import pytest

from rockbuild.build.buildenv import PASSTHROUGH_ENV, WEAKENING_ENV, refuse_weakened_verification
from rockbuild.errors import BuildError


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("PIP_TRUSTED_HOST", "pypi.mirror.internal"),
        ("GONOSUMDB", "github.com/prometheus/*"),
        ("GONOSUMCHECK", "1"),
        ("GOPRIVATE", "github.com/acme/*"),
        ("GOINSECURE", "*"),
        ("GOFLAGS", "-insecure"),
        ("GOSUMDB", "off"),
    ],
)
def test_a_weakening_setting_is_refused_by_name(name: str, value: str) -> None:
    with pytest.raises(BuildError) as refused:
        refuse_weakened_verification({name: value, "GOPROXY": "https://proxy.internal"})
    assert name in str(refused.value) and "Unset them" in str(refused.value)


def test_mirrors_and_proxies_pass() -> None:
    refuse_weakened_verification(
        {
            "GOPROXY": "https://goproxy.internal",
            "GOSUMDB": "sum.golang.org https://goproxy.internal/sumdb/sum.golang.org",
            "PIP_INDEX_URL": "https://pypi.mirror.internal/simple",
            "HTTPS_PROXY": "http://proxy.internal:3128",
        }
    )


def test_nothing_weakening_is_ever_passed_into_a_build() -> None:
    assert not set(WEAKENING_ENV) & set(PASSTHROUGH_ENV)
