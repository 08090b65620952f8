from __future__ import annotations

import string
from urllib.parse import unquote, urlsplit

import config as charm_config
import pytest
import state
from hypothesis import given
from hypothesis import strategies as st

from tests.unit.charm.conftest import REPO

DEFAULTS = {"site_url": "", "uwsgi_processes": 4, "celery_concurrency": 2}


def test_defaults_are_valid() -> None:
    config = charm_config.CharmConfig.from_options(DEFAULTS)
    assert config.site_url == "" and config.uwsgi_processes == 4


@pytest.mark.parametrize(
    ("option", "value"),
    [
        ("site_url", "events.example.org"),
        ("site_url", "ftp://x.org"),
        ("indico_support_email", "nobody"),
        ("uwsgi_processes", 0),
        ("celery_concurrency", 65),
        ("uwsgi_processes", True),
        ("request_timeout", 10),
        ("request_timeout", "900"),
        ("external_plugins", "-r requirements.txt"),
        ("external_plugins", "ok-plugin,--extra-index-url=https://x"),
        ("customization_sources_url", "/srv/custom"),
        ("customization_sources_url", "git@github.com:acme/custom.git"),
        ("customization_sources_url", "ssh://git@host/custom.git"),
        ("customization_sources_url", "--upload-pack=touch /tmp/x"),
    ],
)
def test_invalid_options_are_named(option: str, value: object) -> None:
    with pytest.raises(charm_config.InvalidConfigError) as caught:
        charm_config.CharmConfig.from_options({**DEFAULTS, option: value})
    assert caught.value.option == option and f"'{option}'" in str(caught.value)


def test_base_url_prefers_site_url_then_ingress() -> None:
    config = charm_config.CharmConfig.from_options({**DEFAULTS, "site_url": "https://events.example.org/"})
    assert state.base_url(config, "http://ingress/x", "indico") == "https://events.example.org"
    bare = charm_config.CharmConfig.from_options(DEFAULTS)
    assert (
        state.base_url(bare, "http://ingress.example/model-indico/", "indico") == "http://ingress.example/model-indico"
    )
    assert state.base_url(bare, None, "indico") == "http://indico.local"


@given(user=st.text(min_size=1, max_size=20), tls=st.booleans())
def test_database_uri_carries_any_user_and_never_a_percent_sign_alembic_refuses(user: str, tls: bool) -> None:
    uri = state.database_uri("indico", user, "pg-primary:5432", tls)
    parts = urlsplit(uri)
    assert unquote(parts.username or "") == user and parts.password is None
    assert (parts.hostname, parts.port, parts.path) == ("pg-primary", 5432, "/indico")
    assert (parts.query == "sslmode=require") is tls
    if set(user) <= set(string.ascii_letters + string.digits + "-_."):  # what postgresql-k8s names users
        assert "%" not in uri


@given(
    st.dictionaries(
        st.sampled_from(
            [
                *sorted(DEFAULTS),
                "indico_no_reply_email",
                "enable_roombooking",
                "external_plugins",
                "customization_sources_url",
                "indico_config",
                "smtp_allowed_senders",
            ]
        ),
        st.one_of(st.text(max_size=30), st.integers(-5, 100), st.booleans(), st.none()),
    )
)
def test_any_config_either_parses_or_names_an_option(options: dict[str, object]) -> None:
    try:
        charm_config.CharmConfig.from_options({**DEFAULTS, **options})
    except charm_config.InvalidConfigError as exc:
        assert exc.option in options


@pytest.mark.parametrize(
    ("value", "specs"),
    [
        ("", ()),
        ("indico-plugin-piwik, indico-plugin-paypal==3.3.2", ("indico-plugin-piwik", "indico-plugin-paypal==3.3.2")),
        ("a b\nc", ("a", "b", "c")),
        ("foo>=1.0, <2.0, bar", ("foo>=1.0,<2.0", "bar")),
        ("x[one, two]==1,y", ("x[one,two]==1", "y")),
        (
            "https://h.example/p-1.0-py3-none-any.whl,q@https://h.example/q-2.tar.gz",
            ("https://h.example/p-1.0-py3-none-any.whl", "q@https://h.example/q-2.tar.gz"),
        ),
    ],
)
def test_external_plugins_split_into_pip_specifiers(value: str, specs: tuple[str, ...]) -> None:
    assert charm_config.plugin_specs(value) == specs


@given(st.text(alphabet="ab-=<>, [];\n/:.~!", max_size=40))
def test_no_plugin_specifier_is_ever_a_pip_option(value: str) -> None:
    try:
        specs = charm_config.plugin_specs(value)
    except charm_config.InvalidConfigError as exc:
        assert exc.option == "external_plugins"
    else:
        assert all(spec and not spec.startswith("-") and not any(c.isspace() for c in spec) for spec in specs)


def test_indico_config_becomes_a_literal_indico_reads_back() -> None:
    import ast

    config = charm_config.CharmConfig.from_options(
        {**DEFAULTS, "indico_config": "LOGO_URL: https://example.org/logo.svg\nLOCAL_REGISTRATION: false\n"}
    )
    assert ast.literal_eval(config.conf_override) == {
        "LOGO_URL": "https://example.org/logo.svg",
        "LOCAL_REGISTRATION": False,
    }
    assert charm_config.CharmConfig.from_options(DEFAULTS).conf_override == ""


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("SECRET_KEY: x", "SECRET_KEY comes from the secret the leader shares"),
        ("SMTP_SERVER: [mail, 25]", "SMTP_SERVER comes from the smtp relation"),
        ("LOGO_ULR: https://x", "LOGO_ULR is not an Indico setting (did you mean LOGO_URL?)"),
        ("logo_url: https://x", "logo_url is not an Indico setting (did you mean LOGO_URL?)"),
        ("- LOGO_URL", "must be a YAML mapping"),
        ("HELP_URL: 2024-01-01", "HELP_URL: date values are not supported"),
        ("LOGO_URL: [unclosed", "not valid YAML"),
    ],
)
def test_a_bad_indico_config_names_the_setting_and_what_to_do(value: str, message: str) -> None:
    with pytest.raises(charm_config.InvalidConfigError) as caught:
        charm_config.CharmConfig.from_options({**DEFAULTS, "indico_config": value})
    assert caught.value.option == "indico_config"
    assert message in str(caught.value), str(caught.value)


def test_every_option_is_a_field_with_the_same_default() -> None:
    """load_config passes charmcraft.yaml's options by name: a field per option, same default."""
    import dataclasses

    import yaml

    declared = yaml.safe_load((REPO / "charm" / "charmcraft.yaml").read_text())["config"]["options"]
    fields = {field.name: field.default for field in dataclasses.fields(charm_config.CharmConfig)}
    assert set(fields) == set(declared)
    for name, option in declared.items():
        assert fields[name] == option.get("default"), name


def test_the_readmes_options_table_lists_every_option_and_nothing_else() -> None:
    """Operators read the charm's README first: its table names exactly charmcraft.yaml's options."""
    import re

    import yaml

    declared = yaml.safe_load((REPO / "charm" / "charmcraft.yaml").read_text())["config"]["options"]
    readme = (REPO / "charm" / "README.md").read_text()
    section = readme.split("## Options", 1)[1].split("\n## ", 1)[0]
    listed = re.findall(r"^\| `([a-z_]+)` \|", section, re.MULTILINE)
    assert sorted(listed) == sorted(declared), "charm/README.md's Options table and charmcraft.yaml differ"
    assert len(listed) == len(set(listed)), "an option is listed twice"
