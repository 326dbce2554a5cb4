"""A user's tracked devices at the JSON API, authorized by the user's access token:
ConfirmDevice, GetDevice, ListDevices, UpdateDeviceStatus, ForgetDevice
(:mod:`broker.userpool.tracked_devices` holds the rules).
https://docs.aws.amazon.com/cognito-user-identity-pools/latest/APIReference/API_ConfirmDevice.html
"""
from __future__ import annotations

from typing import Any

from ..store.models import Device
from ..userpool import audit, tracked_devices
from .bearer import Bearer, resolve
from .call import Call
from .errors import AwsError
from .registry import operation

NOT_FOUND = "Device does not exist."


@operation("ConfirmDevice")
def confirm_device(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    bearer = resolve(call, params["AccessToken"])
    device = _device(call, bearer, params["DeviceKey"])
    config = params.get("DeviceSecretVerifierConfig") or {}
    try:
        tracked_devices.confirm(call.session, bearer.pool, device, config.get("PasswordVerifier", ""),
                                config.get("Salt", ""), params.get("DeviceName"))
    except ValueError as exc:
        raise AwsError("InvalidParameterException", str(exc)) from None
    audit.record(call.session, bearer.pool.id, "ConfirmDevice", audit.PASS, user=bearer.user, ip=call.ip,
                 device=device.device_key)
    return {"UserConfirmationNecessary": False}


@operation("GetDevice")
def get_device(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    bearer = resolve(call, _token(params))
    return {"Device": tracked_devices.describe(_device(call, bearer, params["DeviceKey"], confirmed=True))}


@operation("ListDevices")
def list_devices(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    bearer = resolve(call, params["AccessToken"])
    limit = min(int(params.get("Limit") or 60), 60)
    after = params.get("PaginationToken") or "0"
    if not after.isdigit():
        raise AwsError("InvalidParameterException", "The PaginationToken is not one this API gave.")
    devices = tracked_devices.listed(call.session, bearer.user, limit + 1, int(after))
    answer: dict[str, Any] = {"Devices": [tracked_devices.describe(d) for d in devices[:limit]]}
    if len(devices) > limit:
        answer["PaginationToken"] = str(devices[limit - 1].id)
    return answer


@operation("UpdateDeviceStatus")
def update_device_status(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    bearer = resolve(call, params["AccessToken"])
    device = _device(call, bearer, params["DeviceKey"], confirmed=True)
    tracked_devices.remember(bearer.pool, device, params.get("DeviceRememberedStatus") == "remembered")
    return {}


@operation("ForgetDevice")
def forget_device(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    bearer = resolve(call, _token(params))
    call.session.delete(_device(call, bearer, params["DeviceKey"]))
    audit.record(call.session, bearer.pool.id, "ForgetDevice", audit.PASS, user=bearer.user, ip=call.ip,
                 device=params["DeviceKey"])
    return {}


def _token(params: dict[str, Any]) -> str:
    if not params.get("AccessToken"):  # optional in the model: the admin variant needs none
        raise AwsError("NotAuthorizedException", "Missing Access Token")
    return str(params["AccessToken"])


def _device(call: Call, bearer: Bearer, device_key: str, confirmed: bool = False) -> Device:
    device = tracked_devices.find(call.session, bearer.user, device_key)
    if device is None or (confirmed and device.srp_verifier is None):
        raise AwsError("ResourceNotFoundException", NOT_FOUND)
    return device
