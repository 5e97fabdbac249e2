"""How the app authenticates to ARM is a setting said outright, never inferred from the endpoint's look."""

from __future__ import annotations

import pytest

from interconnect.app.settings import Settings
from interconnect.errors import SettingsError

LOCAL = {
    "INTERCONNECT_TABLES_CONNECTION_STRING": "UseDevelopmentStorage=true",
    "ServiceBusConnection": "Endpoint=sb://127.0.0.1:5672;SharedAccessKeyName=k;SharedAccessKey=fake",
}


def test_arm_auth_defaults_to_managed_identity_even_for_a_loopback_endpoint() -> None:
    settings = Settings.from_env({**LOCAL, "INTERCONNECT_ARM_ENDPOINT": "http://127.0.0.1:8443"})
    assert settings.arm_auth == "managed-identity"


def test_arm_auth_none_is_taken_as_said() -> None:
    assert Settings.from_env({**LOCAL, "INTERCONNECT_ARM_AUTH": "None"}).arm_auth == "none"


def test_an_unknown_arm_auth_is_refused_with_the_choices() -> None:
    with pytest.raises(SettingsError) as caught:
        Settings.from_env({**LOCAL, "INTERCONNECT_ARM_AUTH": "key"})
    assert caught.value.code == "SETTINGS_INVALID"
    assert "managed-identity, none" in caught.value.message
