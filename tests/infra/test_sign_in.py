"""Entra sign-in in infra: the app registration's roles, and the settings that point the app at its tenant."""

from __future__ import annotations

import json
import re

import yaml

from interconnect.app.identity import APP_ROLES
from tests.infra.bicep import INFRA, load, text
from tests.infra.sources import bicep_settings

GUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


def test_the_app_registration_defines_exactly_the_roles_the_code_knows() -> None:
    roles = json.loads((INFRA / "app-roles.json").read_text())
    assert sorted(r["value"] for r in roles) == sorted(APP_ROLES)
    assert all(GUID.match(r["id"]) and r["isEnabled"] and r["displayName"] == r["value"] for r in roles)
    assert len({r["id"] for r in roles}) == len(roles)
    members = {r["value"]: set(r["allowedMemberTypes"]) for r in roles}
    # Only people approve: an application assigned an approve role would be refused anyway (APPROVER_NOT_VERIFIED).
    assert members == {"Links.Request": {"User", "Application"}, "Links.Approve": {"User"}, "Links.Admin": {"User"}}


def test_the_app_verifies_tokens_of_the_configured_tenant_and_registration() -> None:
    settings = bicep_settings()
    assert settings["INTERCONNECT_AUTH_ISSUER"] == "authIssuer"
    assert settings["INTERCONNECT_AUTH_AUDIENCE"] == "authAudience"
    main = load("infra/main.bicep")
    api = text(main.get("module", "api").node)
    assert "authIssuer: '${environment().authentication.loginEndpoint}${authTenantId}/v2.0'" in api
    assert "authAudience: empty(authAudience) ? authClientId : '${authClientId},${authAudience}'" in api


def test_the_registration_is_a_required_parameter_fed_by_azd() -> None:
    main = load("infra/main.bicep")
    client = main.get("param", "authClientId")
    assert "=" not in text(client.node).split("authClientId", 1)[1], "authClientId must have no default"
    assert "@minLength(36)" in client.decorators and "@maxLength(36)" in client.decorators
    assert "tenant().tenantId" in text(main.get("param", "authTenantId").node)
    parameters = json.loads((INFRA / "main.parameters.json").read_text())["parameters"]
    assert parameters["authClientId"]["value"] == "${AUTH_CLIENT_ID}"


def test_app_service_authentication_stays_off_so_no_platform_header_is_ever_trusted() -> None:
    # The app ignores X-MS-CLIENT-PRINCIPAL*; turning the platform's module on would not make them safer to read
    # and would refuse the function-key automation. The choice is documented in README, Security.
    for path in ("infra/main.bicep", "infra/app/function.bicep"):
        assert "authsettingsV2" not in (INFRA.parent / path).read_text()


def test_the_console_signs_in_with_the_apis_registration_unless_told_otherwise() -> None:
    assert bicep_settings()["INTERCONNECT_CONSOLE_CLIENT_ID"] == "consoleClientId"
    main = load("infra/main.bicep")
    api = text(main.get("module", "api").node)
    assert "consoleClientId: empty(authConsoleClientId) ? authClientId : authConsoleClientId" in api
    console = main.get("param", "authConsoleClientId")
    assert "@maxLength(36)" in console.decorators and text(console.node).endswith("= ''")
    # azd outputs the console's URL: the SPA redirect URI the registration must list.
    assert text(main.get("output", "CONSOLE_URL").node).endswith("= '${api.outputs.uri}/api/console'")


def test_the_guidance_registers_the_consoles_url_as_an_spa_redirect_uri() -> None:
    # Bicep cannot create or edit the registration (no Graph extension), so the step is documented; it must name
    # the SPA platform (a web redirect URI would make Entra refuse the browser's code redemption) and the output.
    guide = (INFRA / "README.md").read_text().split("## Sign-in", 1)[1].split("\n## ", 1)[0]
    assert "CONSOLE_URL=$(azd env get-value CONSOLE_URL)" in guide
    assert '{\\"spa\\": {\\"redirectUris\\": [\\"$CONSOLE_URL\\"]}}' in guide
    assert "https://<app>.azurewebsites.net/api/console" in guide
    assert '--api-permissions "$SCOPE_ID=Scope"' in guide and "admin-consent" in guide


def test_azd_says_where_the_console_is_and_which_step_registers_it() -> None:
    hooks = yaml.safe_load((INFRA.parent / "azure.yaml").read_text())["hooks"]["postprovision"]
    assert "$CONSOLE_URL" in hooks["posix"]["run"] and "$env:CONSOLE_URL" in hooks["windows"]["run"]
    assert all("SPA redirect URI" in hook["run"] and "infra/README.md" in hook["run"] for hook in hooks.values())
