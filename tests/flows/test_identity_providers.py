"""The other kinds of logins of identity pools, each with its real peer on loopback:
Google's ID token (the Google stand-in, as BROKER_GOOGLE_ISSUER), a Facebook access token
checked with the Graph API (the Facebook stand-in, as BROKER_FACEBOOK_GRAPH_URL; a token of
another app is refused), a SAML response of a user pool's SAML IdP (pysaml2; one addressed
to another audience is refused); principal tags from the pool's maps (defaults and custom);
a user pool login whose user was disabled, or (with ServerSideTokenCheck) signed out
everywhere, is refused."""
from __future__ import annotations

import base64
from urllib.parse import urlencode

import pytest
import requests

from tests.aws import cognito_idp, refused
from tests.aws_identity import (BAD_SAML, NOT_SUPPORTED, REDIRECT, admin, claims_of,  # noqa: F401
                                facebook_token, identity, identity_pool, oidc_id_token, public, server,
                                user_pool_site)
from tests.peers.facebook import running_facebook
from tests.peers.oidc_provider import running_google
from tests.peers.saml_idp import running_idp
from tests.rp import CALLBACK

ALICE = "alice@corp.example"


@pytest.fixture(scope="module")
def google():
    with running_google() as found:
        found.add_user("gina", sub="1098765", email="gina@gmail.example")
        yield found


@pytest.fixture(scope="module")
def facebook():
    with running_facebook() as found:
        found.require_proof = False
        found.add_user("fred", id="10158", name="Fred", email="fred@example.org")
        yield found


@pytest.fixture(scope="module")
def saml_idp(tmp_path_factory):
    directory = tmp_path_factory.mktemp("saml-idp")
    with running_idp(directory / "idp") as found:
        found.metadata_file = str(found.write_metadata(directory / "idp.xml"))
        yield found


@pytest.fixture(scope="module")
def server_env(google, facebook):
    return {"BROKER_GOOGLE_ISSUER": google.issuer, "BROKER_FACEBOOK_GRAPH_URL": facebook.base_url}


def test_a_google_id_token_is_a_login_for_the_apps_client_id(admin, public, google):
    client_id, secret = google.register(REDIRECT)
    other_id, other_secret = google.register(REDIRECT)
    pool = admin.create_identity_pool(IdentityPoolName="google", AllowUnauthenticatedIdentities=False,
                                      SupportedLoginProviders={"accounts.google.com": client_id})["IdentityPoolId"]
    token = oidc_id_token(google, client_id, secret, REDIRECT, "gina")
    first = public.get_id(IdentityPoolId=pool, Logins={"accounts.google.com": token})["IdentityId"]
    assert public.get_id(IdentityPoolId=pool, Logins={"accounts.google.com": oidc_id_token(
        google, client_id, secret, REDIRECT, "gina")})["IdentityId"] == first
    foreign = oidc_id_token(google, other_id, other_secret, REDIRECT, "gina")
    assert refused(lambda: public.get_id(IdentityPoolId=pool, Logins={"accounts.google.com": foreign})) == NOT_SUPPORTED


def test_a_facebook_access_token_is_a_login_for_the_app_it_was_issued_to(admin, public, facebook):
    app_id, secret = facebook.register(REDIRECT)
    other_app, other_secret = facebook.register(REDIRECT)
    pool = admin.create_identity_pool(IdentityPoolName="facebook", AllowUnauthenticatedIdentities=False,
                                      AllowClassicFlow=True,
                                      SupportedLoginProviders={"graph.facebook.com": app_id})["IdentityPoolId"]
    token = facebook_token(facebook, app_id, secret, REDIRECT, "fred")
    first = public.get_id(IdentityPoolId=pool, Logins={"graph.facebook.com": token})["IdentityId"]
    again = facebook_token(facebook, app_id, secret, REDIRECT, "fred")
    assert public.get_id(IdentityPoolId=pool, Logins={"graph.facebook.com": again})["IdentityId"] == first
    amr = claims_of(public.get_open_id_token(IdentityId=first, Logins={"graph.facebook.com": again})["Token"])["amr"]
    assert amr == ["authenticated", "graph.facebook.com", f"graph.facebook.com:{pool}:10158"]
    foreign = facebook_token(facebook, other_app, other_secret, REDIRECT, "fred")
    assert refused(lambda: public.get_id(IdentityPoolId=pool, Logins={"graph.facebook.com": foreign})) == NOT_SUPPORTED
    assert refused(lambda: public.get_id(IdentityPoolId=pool, Logins={"graph.facebook.com": "made-up"}))[0] == \
        "NotAuthorizedException"


def test_a_saml_response_of_a_user_pools_idp_is_a_login(server, admin, public, saml_idp):
    idp = saml_idp
    user_pool = server.pool()
    server.cli("idp", "create", "--pool", user_pool, "--type", "SAML", "--name", "Corp", "--metadata-file",
               idp.metadata_file, "--idp-initiated")
    idp.add_sp_from_url(server.url(user_pool, "/saml2/metadata") + "?idp=Corp")
    pool = admin.create_identity_pool(IdentityPoolName="saml", AllowUnauthenticatedIdentities=False,
                                      SamlProviderARNs=[f"{user_pool}:Corp"])
    key = pool["SamlProviderARNs"][0]
    assert key == f"arn:aws:iam::000000000000:saml-provider/{user_pool}:Corp"

    def response(audience: str) -> str:
        xml = idp.mint_response(None, audience, server.url(user_pool, "/saml2/idpresponse"), ALICE,
                                {"email": [ALICE]})
        return base64.b64encode(xml.encode()).decode()

    good = response(f"urn:cognate:sp:{user_pool}")
    first = public.get_id(IdentityPoolId=pool["IdentityPoolId"], Logins={key: good})["IdentityId"]
    again = response(f"urn:cognate:sp:{user_pool}")
    assert public.get_id(IdentityPoolId=pool["IdentityPoolId"], Logins={key: again})["IdentityId"] == first
    stray = response("urn:cognate:sp:local_Elsewhere")
    assert refused(lambda: public.get_id(IdentityPoolId=pool["IdentityPoolId"], Logins={key: stray})) == BAD_SAML


def saml_site(server, saml_idp, *options: str) -> tuple[str, str]:
    """A user pool with SAML IdP ``Corp`` (the peer) and a confidential app client allowing it."""
    user_pool = server.pool()
    server.cli("idp", "create", "--pool", user_pool, "--type", "SAML", "--name", "Corp", "--metadata-file",
               saml_idp.metadata_file, *options)
    saml_idp.add_sp_from_url(server.url(user_pool, "/saml2/metadata") + "?idp=Corp")
    client = server.cli_json("client", "create", "--pool", user_pool, "--name", "web", "--callback-url", CALLBACK,
                             "--secret", "--idp", "Corp")
    return user_pool, client["ClientId"]


def test_a_saml_assertion_serves_one_identity_pool_and_never_the_hosted_sign_in(server, admin, public, saml_idp):
    user_pool, client_id = saml_site(server, saml_idp, "--idp-initiated")
    pools = [admin.create_identity_pool(IdentityPoolName=f"saml-{n}", AllowUnauthenticatedIdentities=False,
                                        SamlProviderARNs=[f"{user_pool}:Corp"]) for n in (1, 2)]
    key, mine, other = pools[0]["SamlProviderARNs"][0], pools[0]["IdentityPoolId"], pools[1]["IdentityPoolId"]
    acs = server.url(user_pool, "/saml2/idpresponse")

    def response() -> str:
        xml = saml_idp.mint_response(None, f"urn:cognate:sp:{user_pool}", acs, ALICE, {"email": [ALICE]})
        return base64.b64encode(xml.encode()).decode()

    def at_acs(value: str) -> int:
        relay = urlencode({"client_id": client_id, "redirect_uri": CALLBACK, "response_type": "code",
                           "scope": "openid email", "state": "portal"})
        return requests.post(acs, data={"SAMLResponse": value, "RelayState": relay}, allow_redirects=False,
                             timeout=10).status_code

    used = response()
    first = public.get_id(IdentityPoolId=mine, Logins={key: used})["IdentityId"]
    assert public.get_id(IdentityPoolId=mine, Logins={key: used})["IdentityId"] == first  # GetId, then again
    assert refused(lambda: public.get_id(IdentityPoolId=other, Logins={key: used})) == BAD_SAML
    assert at_acs(used) == 400
    signed_in = response()
    assert at_acs(signed_in) in (302, 303)  # signed in: on to the app
    assert refused(lambda: public.get_id(IdentityPoolId=mine, Logins={key: signed_in})) == BAD_SAML


def test_a_saml_idp_without_idp_initiated_sign_in_gives_no_login(server, admin, public, saml_idp):
    user_pool, _client = saml_site(server, saml_idp)
    pool = admin.create_identity_pool(IdentityPoolName="saml-closed", AllowUnauthenticatedIdentities=False,
                                      SamlProviderARNs=[f"{user_pool}:Corp"])
    xml = saml_idp.mint_response(None, f"urn:cognate:sp:{user_pool}", server.url(user_pool, "/saml2/idpresponse"),
                                 ALICE, {"email": [ALICE]})
    login = {pool["SamlProviderARNs"][0]: base64.b64encode(xml.encode()).decode()}
    assert refused(lambda: public.get_id(IdentityPoolId=pool["IdentityPoolId"], Logins=login)) == BAD_SAML


def test_a_key_limited_to_some_pools_names_only_their_user_pools_and_saml_idps(server, admin, saml_idp):
    mine, theirs = user_pool_site(server), user_pool_site(server)
    for pool_id, name in ((mine.pool_id, "Shared"), (theirs.pool_id, "Shared"), (theirs.pool_id, "Secret")):
        server.cli("idp", "create", "--pool", pool_id, "--type", "SAML", "--name", name, "--metadata-file",
                   saml_idp.metadata_file)
    pool = admin.create_identity_pool(IdentityPoolName="tenant", AllowUnauthenticatedIdentities=False)["IdentityPoolId"]
    scoped = identity(server.base_url, server.cli_json("admin-key", "create", "--pool", pool, "--pool", mine.pool_id))

    def update(**given: list) -> dict:
        return scoped.update_identity_pool(IdentityPoolId=pool, IdentityPoolName="tenant",
                                           AllowUnauthenticatedIdentities=False, **given)

    host = server.base_url.split("://", 1)[1]
    code, theirs_message = refused(lambda: update(CognitoIdentityProviders=[theirs.entry()]))
    _, missing_message = refused(lambda: update(CognitoIdentityProviders=[
        {"ProviderName": f"{host}/local_Missing00", "ClientId": theirs.client_id}]))
    assert code == "InvalidParameterException"
    assert theirs_message.replace(theirs.pool_id, "X") == missing_message.replace("local_Missing00", "X")
    arn = "arn:aws:iam::123456789012:saml-provider/"
    _, secret = refused(lambda: update(SamlProviderARNs=[arn + "Secret"]))
    _, nowhere = refused(lambda: update(SamlProviderARNs=[arn + "Nowhere"]))
    assert secret.replace("Secret", "X") == nowhere.replace("Nowhere", "X")
    assert refused(lambda: update(SamlProviderARNs=[f"{theirs.pool_id}:Shared"]))[0] == "InvalidParameterException"
    out = update(CognitoIdentityProviders=[mine.entry()],
                 SamlProviderARNs=[arn + "Shared"])
    assert out["SamlProviderARNs"] == [f"arn:aws:iam::000000000000:saml-provider/{mine.pool_id}:Shared"]
    assert refused(lambda: update(CognitoIdentityProviders=[
        {"ProviderName": mine.provider, "ClientId": "no-such-client"}]))[0] == "InvalidParameterException"


def test_principal_tags_come_from_the_pools_maps(server, admin, public):
    site = user_pool_site(server)
    site.user("tess")
    pool = identity_pool(admin, site, name="tags", AllowClassicFlow=True)
    token = site.id_token("tess")
    identity_id = public.get_id(IdentityPoolId=pool, Logins={site.provider: token})["IdentityId"]

    def tags() -> dict:
        answer = public.get_open_id_token(IdentityId=identity_id, Logins={site.provider: token})["Token"]
        return claims_of(answer).get("https://aws.amazon.com/tags", {})

    assert tags() == {}
    admin.set_principal_tag_attribute_map(IdentityPoolId=pool, IdentityProviderName=site.provider, UseDefaults=True)
    assert tags() == {"principal_tags": {"client": [site.client_id], "username": [claims_of(token)["sub"]]}}
    admin.set_principal_tag_attribute_map(IdentityPoolId=pool, IdentityProviderName=site.provider, UseDefaults=False,
                                          PrincipalTags={"mail": "email", "who": "cognito:username"})
    assert tags() == {"principal_tags": {"mail": ["tess@example.com"], "who": ["tess"]}}


def test_a_disabled_or_signed_out_user_pool_user_is_refused(server, admin, public):
    site = user_pool_site(server)
    for name in ("uma", "vic"):
        site.user(name)
    pool = identity_pool(admin, name="checked", CognitoIdentityProviders=[site.entry(ServerSideTokenCheck=True)])
    uma, vic = site.sign_in("uma"), site.sign_in("vic")
    public.get_id(IdentityPoolId=pool, Logins={site.provider: uma["IdToken"]})
    server.cli("user", "disable", "--pool", site.pool_id, "--username", "uma")
    assert refused(lambda: public.get_id(IdentityPoolId=pool, Logins={site.provider: uma["IdToken"]}))[0] == \
        "NotAuthorizedException"
    public.get_id(IdentityPoolId=pool, Logins={site.provider: vic["IdToken"]})
    cognito_idp(server.base_url).global_sign_out(AccessToken=vic["AccessToken"])
    assert refused(lambda: public.get_id(IdentityPoolId=pool, Logins={site.provider: vic["IdToken"]}))[0] == \
        "NotAuthorizedException"
