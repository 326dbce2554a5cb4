"""Tracked devices with the JavaScript client libraries (tests/node_peers.py), whose device SRP
nobody here wrote: in a pool that remembers devices, amazon-cognito-identity-js and Amplify v6
confirm the device a sign-in gets (NewDeviceMetadata) with ConfirmDevice and their own
verifier, keep it in their storage, and answer DEVICE_SRP_AUTH and DEVICE_PASSWORD_VERIFIER
at the next sign-in from that storage. What they did is checked with boto3 (ListDevices,
GetDevice) and seen on the wire (tests/node/wire.mjs): the calls each sign-in made.

A remembered device that proves itself skips TOTP; a process without the device is asked for
it. Amplify names the device from ``navigator`` and, where there is none (Node 20), skips
ConfirmDevice without a word: its scenarios give it one, as every browser has.
"""
from __future__ import annotations

from typing import Any

import pytest

from tests.aws import cognito_idp
from tests.conftest import Broker
from tests.flows.test_api_node_clients import Authenticator, app, assert_api_tokens
from tests.node_peers import NodePeers, node_peers  # noqa: F401 (node_peers is a fixture)

DAYS = "30"
#: The calls of an SRP sign-in from a process that has no device: a new one, confirmed.
NEW_DEVICE_SRP = [
    {"op": "InitiateAuth", "sent": "USER_SRP_AUTH", "deviceKey": None, "got": "PASSWORD_VERIFIER"},
    {"op": "RespondToAuthChallenge", "sent": "PASSWORD_VERIFIER", "deviceKey": None,
     "got": "tokens+NewDeviceMetadata"},
]


@pytest.fixture
def broker(shared_broker: Broker) -> Broker:
    return shared_broker


def device_app(broker: Broker) -> dict[str, Any]:
    """A pool with optional MFA that remembers devices for 30 days, and its user."""
    inputs = app(broker, "--mfa", "OPTIONAL", user="dana")
    broker.cli("pool", "update", "--pool", inputs["poolId"], "--remember-devices-days", DAYS)
    return inputs


def device_srp(key: str) -> list[dict[str, Any]]:
    """The calls of an SRP sign-in from the storage that holds device ``key``: the device
    named at PASSWORD_VERIFIER (the library reads its cache there), then proven."""
    return [
        {"op": "InitiateAuth", "sent": "USER_SRP_AUTH", "deviceKey": None, "got": "PASSWORD_VERIFIER"},
        {"op": "RespondToAuthChallenge", "sent": "PASSWORD_VERIFIER", "deviceKey": key, "got": "DEVICE_SRP_AUTH"},
        {"op": "RespondToAuthChallenge", "sent": "DEVICE_SRP_AUTH", "deviceKey": key,
         "got": "DEVICE_PASSWORD_VERIFIER"},
        {"op": "RespondToAuthChallenge", "sent": "DEVICE_PASSWORD_VERIFIER", "deviceKey": key, "got": "tokens"},
    ]


def attributes(device: dict[str, Any]) -> dict[str, str]:
    return {a["Name"]: a["Value"] for a in device["DeviceAttributes"]}


def enable_totp(idp: Any, access: str, codes: Authenticator) -> str:
    """TOTP on for the user of ``access``, preferred, as an app's settings page does; its secret."""
    secret = idp.associate_software_token(AccessToken=access)["SecretCode"]
    code = codes({"totp": secret})["code"]
    assert idp.verify_software_token(AccessToken=access, UserCode=code)["Status"] == "SUCCESS"
    idp.set_user_mfa_preference(AccessToken=access, SoftwareTokenMfaSettings={"Enabled": True, "PreferredMfa": True})
    return secret


class DeviceTest:
    """Answers a scenario's ``{"signed_in": access}``: the one device the
    library confirmed is listed, then TOTP is turned on; ``{"not_remembered": key, ...}``:
    the library's status change is seen, then TOTP is turned on and its secret given;
    ``{"totp": secret}``: a code. ``codes`` gives every TOTP code of the test, none twice."""

    def __init__(self, broker: Broker) -> None:
        self.idp = cognito_idp(broker.base_url)
        self.codes = Authenticator()
        self.secret = ""
        self.listed: list[dict[str, Any]] = []
        self.status = ""

    def __call__(self, ask: dict[str, Any]) -> dict[str, Any]:
        if "totp" in ask:
            return self.codes(ask)
        if "signed_in" in ask:
            self.listed = self.idp.list_devices(AccessToken=ask["signed_in"])["Devices"]
            self.secret = enable_totp(self.idp, ask["signed_in"], self.codes)
            return {}
        device = self.idp.get_device(AccessToken=ask["access"], DeviceKey=ask["not_remembered"])["Device"]
        self.status = attributes(device)["dev:device_remembered_status"]
        self.secret = enable_totp(self.idp, ask["access"], self.codes)
        return {"secret": self.secret}


def test_identity_js_confirms_its_device_and_signs_in_with_it_without_totp(node_peers: NodePeers,
                                                                         broker: Broker) -> None:
    inputs = device_app(broker)
    test = DeviceTest(broker)
    out = node_peers.run("identity-js", "remembered_device", inputs, answer=test)
    key = out["device"]["deviceKey"]
    assert key.startswith(inputs["poolId"].split("_")[0] + "_") and out["device"]["deviceGroupKey"]
    assert out["device"]["hasRandomPassword"] is True
    assert out["firstCalls"] == [*NEW_DEVICE_SRP, {"op": "ConfirmDevice", "sent": None, "deviceKey": key, "got": "ok"}]
    assert [d["DeviceKey"] for d in test.listed] == [key]
    assert attributes(test.listed[0])["dev:device_remembered_status"] == "remembered"
    assert attributes(test.listed[0])["device_name"] == "nodejs"  # the library's name for a device without navigator

    assert out["secondCalls"] == device_srp(key)  # TOTP was on: the remembered device skipped it
    assert_api_tokens(out["second"], inputs)
    listed = cognito_idp(broker.base_url).list_devices(AccessToken=out["second"]["access"])["Devices"]
    assert [d["DeviceKey"] for d in listed] == [key]

    elsewhere = node_peers.run("identity-js", "totp_sign_in", {**inputs, "secret": test.secret}, answer=test.codes)
    assert elsewhere["wrongCode"]["code"] == "CodeMismatchException"
    assert [c["got"] for c in elsewhere["calls"]] == [
        "PASSWORD_VERIFIER", "SOFTWARE_TOKEN_MFA", "CodeMismatchException", "tokens+NewDeviceMetadata", "ok"]
    _access, id_token = assert_api_tokens(elsewhere["tokens"], inputs)
    assert "mfa" in id_token["amr"]
    other = elsewhere["device"]["deviceKey"]
    listed = cognito_idp(broker.base_url).list_devices(AccessToken=elsewhere["tokens"]["access"])["Devices"]
    assert other != key and sorted(d["DeviceKey"] for d in listed) == sorted([key, other])


def test_identity_js_device_calls(node_peers: NodePeers, broker: Broker) -> None:
    inputs = device_app(broker)
    test = DeviceTest(broker)
    out = node_peers.run("identity-js", "manage_devices", inputs, answer=test)
    key = out["device"]["deviceKey"]
    assert out["got"]["Device"]["DeviceKey"] == key
    assert [d["DeviceKey"] for d in out["listed"]["Devices"]] == [key]
    assert out["notRemembered"] == "SUCCESS" and test.status == "not_remembered"

    # not remembered: TOTP is asked for, and the device proves itself after the code
    assert out["wrongCode"]["code"] == "CodeMismatchException"
    _access, id_token = assert_api_tokens(out["tokens"], inputs)
    assert "mfa" in id_token["amr"]
    answered = [(c["sent"], c["deviceKey"], c["got"]) for c in out["signInCalls"]]
    assert answered == [
        ("USER_SRP_AUTH", None, "PASSWORD_VERIFIER"), ("PASSWORD_VERIFIER", key, "SOFTWARE_TOKEN_MFA"),
        ("SOFTWARE_TOKEN_MFA", key, "CodeMismatchException"), ("SOFTWARE_TOKEN_MFA", key, "DEVICE_SRP_AUTH"),
        ("DEVICE_SRP_AUTH", key, "DEVICE_PASSWORD_VERIFIER"), ("DEVICE_PASSWORD_VERIFIER", key, "tokens"),
    ]

    assert out["forgotten"] == "SUCCESS"
    assert out["cachedAfterForget"] == {"deviceKey": None, "deviceGroupKey": None, "hasRandomPassword": False}
    assert cognito_idp(broker.base_url).list_devices(AccessToken=out["tokens"]["access"])["Devices"] == []


def test_amplify_confirms_its_device_and_signs_in_with_it_without_totp(node_peers: NodePeers,
                                                                      broker: Broker) -> None:
    inputs = device_app(broker)
    test = DeviceTest(broker)
    out = node_peers.run("amplify", "remembered_device", inputs, answer=test)
    assert out["signedIn"] == {"isSignedIn": True, "nextStep": {"signInStep": "DONE"}}
    key = out["device"]["deviceKey"]
    assert out["device"]["deviceGroupKey"] and out["device"]["hasRandomPassword"] is True
    assert out["firstCalls"] == [*NEW_DEVICE_SRP, {"op": "ConfirmDevice", "sent": None, "deviceKey": key, "got": "ok"}]
    assert [d["DeviceKey"] for d in test.listed] == [key]
    assert attributes(test.listed[0])["device_name"].endswith("cognate-node-peer")  # navigator.userAgent

    [device] = out["devices"]  # fetchDevices, after rememberDevice
    assert device["id"] == key and device["attributes"]["dev:device_remembered_status"] == "remembered"
    assert device["name"] == attributes(test.listed[0])["device_name"]

    assert out["again"] == {"isSignedIn": True, "nextStep": {"signInStep": "DONE"}}  # TOTP was on
    assert out["secondCalls"] == device_srp(key)
    assert_api_tokens(out["second"], inputs)
    listed = cognito_idp(broker.base_url).list_devices(AccessToken=out["second"]["access"])["Devices"]
    assert [d["DeviceKey"] for d in listed] == [key]

    elsewhere = node_peers.run("amplify", "totp_sign_in", {**inputs, "secret": test.secret}, answer=test.codes)
    assert elsewhere["challengeStep"] == "CONFIRM_SIGN_IN_WITH_TOTP_CODE"
    assert elsewhere["wrongCode"]["name"] == "CodeMismatchException"
    assert elsewhere["done"] == {"isSignedIn": True, "nextStep": {"signInStep": "DONE"}}
    _access, id_token = assert_api_tokens(elsewhere["tokens"], inputs)
    assert "mfa" in id_token["amr"]
    other = elsewhere["device"]["deviceKey"]
    listed = cognito_idp(broker.base_url).list_devices(AccessToken=elsewhere["tokens"]["access"])["Devices"]
    assert other != key and sorted(d["DeviceKey"] for d in listed) == sorted([key, other])


def test_amplify_forgets_its_device(node_peers: NodePeers, broker: Broker) -> None:
    inputs = device_app(broker)
    out = node_peers.run("amplify", "forget_device", inputs)
    key = out["device"]["deviceKey"]
    assert [d["id"] for d in out["before"]] == [key]
    assert out["afterForget"] == {"deviceKey": None, "deviceGroupKey": None, "hasRandomPassword": False}
    assert out["after"] == []
    new = out["next"]["deviceKey"]  # the next sign-in names no device, and confirms a new one
    assert new not in (None, key)
    assert out["calls"] == [*NEW_DEVICE_SRP, {"op": "ConfirmDevice", "sent": None, "deviceKey": new, "got": "ok"}]
    listed = cognito_idp(broker.base_url).list_devices(AccessToken=out["tokens"]["access"])["Devices"]
    assert [d["DeviceKey"] for d in listed] == [new]
