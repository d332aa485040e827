"""Azure OpenAI's side of the emulator: what a call to a deployment must carry, and its model.

Azure serves the Images API at ``/openai/deployments/{deployment}/images/...`` and wants an
``api-version`` query parameter (without an accepted one its gateway answers 404 ``Resource
not found``), an ``api-key`` header or a Microsoft Entra ID token in ``Authorization: Bearer``
(401 otherwise), and a deployment that exists (404 ``DeploymentNotFound``). Those refusals
come in the gateway's shape, ``{"error": {"code", "message"}}``; everything past them
(validation, images, faults) is the emulator's usual answer. :func:`admit_azure_call` makes
the checks and names the model that serves the call; :func:`with_model` hands it to
validation.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from ._bodies import RequestBody
from ._config import BEARER, EmulatorConfig
from ._responses import APIError

__all__ = ["AZURE_PREFIX", "admit_azure_call", "azure_not_found", "with_model"]

#: Where Azure's deployment routes start.
AZURE_PREFIX = "/openai/"
#: An API version as Azure dates them: ``2024-10-21``, ``2025-04-01-preview``.
_DATED_VERSION = re.compile(r"\d{4}-\d{2}-\d{2}(-preview)?", re.ASCII)
_DENIED = (
    "Access denied: the api-key header or the bearer token is missing or not valid for this "
    "resource."
)


def azure_not_found() -> APIError:
    """The gateway's 404 for a path or ``api-version`` it does not serve."""
    return APIError.in_azure_shape(404, "404", "Resource not found")


def admit_azure_call(
    config: EmulatorConfig,
    *,
    deployment: str,
    api_version: str | None,
    headers: Mapping[str, str],
    body_model: object,
) -> str | None:
    """Check an Azure call's version, credential and deployment; the model serving it.

    None leaves the model to the request (and its endpoint's default).
    """
    if not _accepts_version(config.azure_api_versions, api_version):
        raise azure_not_found()
    _check_credential(config, headers)
    deployments = config.azure_deployments
    if deployments is None:
        return body_model if isinstance(body_model, str) and body_model else deployment
    model = deployments.get(deployment)
    if model is None:
        raise APIError.in_azure_shape(
            404,
            "DeploymentNotFound",
            f"The API deployment {deployment} does not exist on this resource.",
        )
    return model


def _accepts_version(accepted: frozenset[str] | None, version: str | None) -> bool:
    if version is None:
        return False
    if accepted is None:
        return _DATED_VERSION.fullmatch(version) is not None
    return version in accepted


def _check_credential(config: EmulatorConfig, headers: Mapping[str, str]) -> None:
    """An ``api-key`` (checked against ``api_keys``) or else a bearer token (against
    ``azure_ad_tokens``); the message never repeats either."""
    key = headers.get("api-key")
    if key is not None:
        accepted = config.api_keys
        if key and (accepted is None or key in accepted):
            return
        raise APIError.in_azure_shape(401, "401", _DENIED)
    match = BEARER.fullmatch(headers.get("Authorization", ""))
    tokens = config.azure_ad_tokens
    if match is not None and (tokens is None or match[1] in tokens):
        return
    raise APIError.in_azure_shape(401, "401", _DENIED)


def with_model(body: RequestBody, model: str | None) -> RequestBody:
    """``body`` with ``model`` in place of the one it names (as sent: JSON or a form field).

    A deployment runs one model, whatever the request says: validation and pictures follow
    the deployment's.
    """
    if model is None:
        return body
    if body.kind == "json" and isinstance(body.document, dict):
        body.document = {**body.document, "model": model}
    elif body.kind == "multipart":
        body.texts = [*((n, v) for n, v in body.texts if n != "model"), ("model", model)]
    return body
