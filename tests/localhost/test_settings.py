"""Settings, %SETTING% resolution and host.json options."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from localdev.host.settings import (
    ConfigError,
    HostOptions,
    load_host_options,
    load_local_settings,
    merge_into_environment,
    parse_timespan,
    resolve,
)


def test_placeholders_resolve_anywhere_in_a_value() -> None:
    assert resolve("%A%-x-%B%", {"A": "1", "B": "2"}, "here") == "1-x-2"
    assert resolve("plain", {}, "here") == "plain"
    with pytest.raises(ConfigError, match="here: app setting 'C'"):
        resolve("%C%", {}, "here")


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("00:05:00", 300),
        ("1.02:00:00", 93600),
        ("00:00:00.80", 0.8),
        ("00:01", 60),
    ],
)
def test_timespans(text: str, seconds: float) -> None:
    assert parse_timespan(text, "x") == pytest.approx(seconds)


def test_bad_timespans_are_rejected() -> None:
    with pytest.raises(ConfigError, match="TimeSpan"):
        parse_timespan("5 minutes", "x")


def test_local_settings_values_fill_the_environment_but_the_environment_wins(tmp_path: Path) -> None:
    path = tmp_path / "local.settings.json"
    path.write_text(
        json.dumps({"IsEncrypted": False, "Values": {"A": "file", "B": "file"}, "Host": {"LocalHttpPort": 7099}})
    )
    local = load_local_settings(path, required=True)
    environ = {"A": "env"}
    assert merge_into_environment(local.values, environ) == {"A": "env", "B": "file"}
    assert environ == {"A": "env", "B": "file"}
    assert local.port == 7099


def test_a_missing_settings_file_is_an_error_only_when_named(tmp_path: Path) -> None:
    assert load_local_settings(tmp_path / "absent.json", required=False).values == {}
    with pytest.raises(ConfigError, match="does not exist"):
        load_local_settings(tmp_path / "absent.json", required=True)


def test_host_json_defaults() -> None:
    assert load_host_options(None, {}) == HostOptions()


def test_host_json_is_read_case_insensitively_with_app_setting_overrides(tmp_path: Path) -> None:
    path = tmp_path / "host.json"
    path.write_text(
        json.dumps(
            {
                "version": "2.0",
                "extensions": {
                    "http": {"routePrefix": "/v1/"},
                    "serviceBus": {
                        "MaxConcurrentCalls": 2,
                        "maxAutoLockRenewalDuration": "00:10:00",
                        "clientRetryOptions": {
                            "mode": "fixed",
                            "maxRetries": 1,
                            "delay": "00:00:02",
                            "tryTimeout": "00:00:30",
                        },
                    },
                },
            }
        )
    )
    options = load_host_options(path, {"AzureFunctionsJobHost__extensions__serviceBus__maxConcurrentCalls": "3"})
    assert options.route_prefix == "v1"
    assert options.max_concurrent_calls == 3
    assert options.max_auto_lock_renewal == 600
    assert options.session_idle_timeout == 30  # falls back to tryTimeout
    assert options.client_retry.client_kwargs() == {
        "retry_mode": "fixed",
        "retry_total": 1,
        "retry_backoff_factor": 2.0,
    }


def test_invalid_host_json_values_are_named(tmp_path: Path) -> None:
    path = tmp_path / "host.json"
    path.write_text(json.dumps({"extensions": {"serviceBus": {"maxConcurrentCalls": 0}}}))
    with pytest.raises(ConfigError, match="maxConcurrentCalls must be at least 1"):
        load_host_options(path, {})
