"""Helpers of the conformance suite: processes, clients, and checks against the AWS model.

The AWS model used here is botocore's own copy of kinesisvideo/2017-09-30/service-2.json,
so "matches the model" means "matches what boto3 itself was generated from".
"""

from __future__ import annotations

import datetime as dt
import json
import os
import queue
import re
import signal
import subprocess
import threading
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import boto3
import botocore.session
import regex
from botocore.config import Config
from botocore.exceptions import ClientError

REGION = "us-west-2"
ACCOUNT = "123456789012"
CREDENTIALS = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}
REPO_ROOT = Path(__file__).resolve().parents[2]

SERVICE_MODEL = botocore.session.get_session().get_service_model("kinesisvideo")
STS_MODEL = botocore.session.get_session().get_service_model("sts")


def client(endpoint_url: str, region: str = REGION, credentials: dict | None = None,
           service: str = "kinesisvideo", **config: Any):
    """A boto3 client (kinesisvideo unless `service` says otherwise) without retries, so
    every answer is seen as sent; `credentials` are boto3's aws_* keyword arguments."""
    options = {"retries": {"max_attempts": 1, "mode": "standard"}}
    options.update(config)
    return boto3.client(
        service,
        endpoint_url=endpoint_url,
        region_name=region,
        config=Config(**options),
        **(credentials or CREDENTIALS),
    )


def sts_client(endpoint_url: str, region: str = REGION, credentials: dict | None = None,
               **config: Any):
    """A boto3 STS client of the same endpoint."""
    return client(endpoint_url, region, credentials, service="sts", **config)


def session_credentials(assumed: dict) -> dict:
    """boto3 keyword arguments for the credentials an AssumeRole answer carries."""
    creds = assumed["Credentials"]
    return {
        "aws_access_key_id": creds["AccessKeyId"],
        "aws_secret_access_key": creds["SecretAccessKey"],
        "aws_session_token": creds["SessionToken"],
    }


def emulator_binary() -> Path:
    """The binary run.sh built; built here with cargo when pytest runs on its own."""
    configured = os.environ.get("KVS_EMULATOR_BIN")
    if configured:
        path = Path(configured)
    else:
        subprocess.run(
            ["cargo", "build", "--quiet", "-p", "kvs-emulator", "--bin", "kvs-emulator"],
            cwd=REPO_ROOT,
            check=True,
        )
        target = Path(os.environ.get("CARGO_TARGET_DIR", REPO_ROOT / "target"))
        path = target / "debug" / "kvs-emulator"
    if not path.is_file():
        raise FileNotFoundError(f"kvs-emulator binary not found at {path}")
    return path


class EmulatorProcess:
    """`kvs-emulator --listen 127.0.0.1:0 ARGS`, started and waited for."""

    READY = "kvs-emulator listening on "

    def __init__(self, binary: Path, *args: str):
        self.process = subprocess.Popen(
            [str(binary), "--listen", "127.0.0.1:0", *args],
            stdout=subprocess.PIPE,
            text=True,
        )
        lines: queue.Queue[str] = queue.Queue()
        reader = threading.Thread(
            target=lambda: lines.put(self.process.stdout.readline()), daemon=True
        )
        reader.start()
        try:
            line = lines.get(timeout=30)
        except queue.Empty:
            self.process.kill()
            raise RuntimeError("kvs-emulator printed no ready line within 30 s")
        if not line.startswith(self.READY):
            self.process.kill()
            raise RuntimeError(f"unexpected ready line {line!r}")
        self.url = line[len(self.READY) :].strip()

    def admin(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(self.url + path, data=data, method=method)
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return response.status, json.loads(response.read() or b"null")
        except urllib.error.HTTPError as err:
            return err.code, json.loads(err.read() or b"null")

    def stop(self) -> int:
        """SIGTERM, as an init system would; returns the exit code."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            raise


def raw_post(url: str, path: str, body: bytes, headers: dict[str, str]) -> tuple[int, dict, Any]:
    """A request no SDK would send; returns status, headers (lower-cased) and JSON body."""
    request = urllib.request.Request(url + path, data=body, method="POST", headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            status, head, payload = response.status, response.headers, response.read()
    except urllib.error.HTTPError as err:
        status, head, payload = err.code, err.headers, err.read()
    return status, {k.lower(): v for k, v in head.items()}, json.loads(payload or b"null")


SIGNED_HEADERS = {
    "Authorization": "AWS4-HMAC-SHA256 Credential=testing/20260101/us-west-2/kinesisvideo/"
    "aws4_request, SignedHeaders=host;x-amz-date, Signature=00",
    "X-Amz-Date": "20260101T000000Z",
}


# --- the model -------------------------------------------------------------------------


def _matches(pattern: str, value: str) -> bool:
    # Model patterns are Java regexes matched against the whole value: `\w` and `\d` are
    # ASCII there (the ASCII flag), `\p{L}` and friends Unicode (which that flag would
    # break; no pattern of the model mixes the two).
    flags = 0 if r"\p{" in pattern else regex.ASCII
    return regex.fullmatch(pattern, value, flags=flags) is not None


def check_shape(value: Any, shape, where: str = "output") -> None:
    """Asserts that a parsed response value fits its model shape: members, types,
    lengths, ranges, patterns and enums. Lists and maps are checked against their
    maximum only: AWS answers an empty tag map although the input shape says min 1."""
    kind = shape.type_name
    if kind == "structure":
        assert isinstance(value, dict), f"{where}: expected an object, got {value!r}"
        for name, member in value.items():
            assert name in shape.members, f"{where}: {name} is not a member of {shape.name}"
            check_shape(member, shape.members[name], f"{where}.{name}")
        for name in shape.required_members:
            assert name in value, f"{where}: required member {name} missing"
    elif kind == "string":
        assert isinstance(value, str), f"{where}: expected a string, got {value!r}"
        meta = shape.metadata
        if shape.enum:
            assert value in shape.enum, f"{where}: {value!r} not in {shape.enum}"
        assert len(value) >= meta.get("min", 0), f"{where}: {value!r} too short"
        assert len(value) <= meta.get("max", 1 << 30), f"{where}: {value!r} too long"
        if "pattern" in meta:
            assert _matches(meta["pattern"], value), f"{where}: {value!r} !~ {meta['pattern']}"
    elif kind in ("integer", "long"):
        assert isinstance(value, int), f"{where}: expected an integer, got {value!r}"
        assert value >= shape.metadata.get("min", -(1 << 63)), f"{where}: {value} too small"
        assert value <= shape.metadata.get("max", 1 << 63), f"{where}: {value} too large"
    elif kind == "timestamp":
        assert isinstance(value, dt.datetime), f"{where}: expected a timestamp, got {value!r}"
    elif kind == "list":
        assert isinstance(value, list), f"{where}: expected a list"
        assert len(value) <= shape.metadata.get("max", 1 << 30), f"{where}: too many items"
        for i, item in enumerate(value):
            check_shape(item, shape.member, f"{where}[{i}]")
    elif kind == "map":
        assert isinstance(value, dict), f"{where}: expected a map"
        assert len(value) <= shape.metadata.get("max", 1 << 30), f"{where}: too many entries"
        for key, item in value.items():
            check_shape(key, shape.key, f"{where}.key")
            check_shape(item, shape.value, f"{where}[{key!r}]")
    else:
        raise AssertionError(f"{where}: shape type {kind} not handled")


def operation_name(method: str) -> str:
    return "".join(part.capitalize() for part in method.split("_"))


def check_output(method: str, response: dict, model=SERVICE_MODEL) -> None:
    """Asserts a successful response fits the operation's output shape."""
    output = model.operation_model(operation_name(method)).output_shape
    body = {k: v for k, v in response.items() if k != "ResponseMetadata"}
    check_shape(body, output, operation_name(method))


def modelled_errors(method: str, model=SERVICE_MODEL) -> set[str]:
    return {s.name for s in model.operation_model(operation_name(method)).error_shapes}


def error_of(exc: ClientError) -> tuple[str, int, str]:
    """Error type, HTTP status and message of a failed call."""
    error = exc.response["Error"]
    return error["Code"], exc.response["ResponseMetadata"]["HTTPStatusCode"], error["Message"]


def call(kvs, method: str, **params: Any) -> dict:
    """Calls an operation and checks its response against the model."""
    response = getattr(kvs, method)(**params)
    check_output(method, response)
    return response


def expect_error(kvs, method: str, code: str, status: int | None = None, **params: Any) -> str:
    """Calls an operation that must fail with the modelled `code`; returns the message."""
    try:
        getattr(kvs, method)(**params)
    except ClientError as exc:
        got_code, got_status, message = error_of(exc)
        assert got_code == code, f"{method}: expected {code}, got {got_code}: {message}"
        if code in modelled_errors(method):
            # botocore parsed the body into the modelled exception class.
            assert type(exc).__name__ == code, type(exc).__name__
            model_status = SERVICE_MODEL.shape_for(code).metadata["error"]["httpStatusCode"]
            assert got_status == model_status, f"{code}: status {got_status} != {model_status}"
        if status is not None:
            assert got_status == status, f"{code}: status {got_status} != {status}"
        return message
    raise AssertionError(f"{method} succeeded; expected {code}")


# --- transcripts for the moto comparison --------------------------------------------------

ARN_MILLIS = re.compile(r"^(arn:aws:kinesisvideo:[a-z0-9-]+:\d+:stream/[^/]+/)\d+$")
DATA_ENDPOINT = re.compile(r"^https://([sb])-[0-9a-f]+(\.kinesisvideo\.[a-z0-9-]+\.amazonaws\.com)$")
VERSION = re.compile(r"^[a-zA-Z0-9]{1,64}$")


def normalise(value: Any, drop: frozenset[str] = frozenset()) -> Any:
    """Replaces what legitimately differs between two correct implementations:

    - the creation-millis suffix of a StreamARN (moto uses a constant, AWS the creation
      time) becomes `<millis>`;
    - Version (random on both) becomes `<version>` after its pattern is checked;
    - CreationTime becomes `<time>` after it is checked to be within ten minutes of now;
    - the random host id of a DataEndpoint becomes `<id>`, keeping its s-/b- kind, region
      and domain;
    - members named in `drop` are removed (each use says why).
    """
    if isinstance(value, dict):
        result = {}
        for key, item in value.items():
            if key in drop or key == "ResponseMetadata":
                continue
            if key == "Version":
                assert VERSION.match(item), item
                result[key] = "<version>"
            elif key == "CreationTime":
                now = dt.datetime.now(dt.timezone.utc)
                assert abs((now - item).total_seconds()) < 600, item
                result[key] = "<time>"
            else:
                result[key] = normalise(item, drop)
        return result
    if isinstance(value, list):
        return [normalise(item, drop) for item in value]
    if isinstance(value, str):
        if m := ARN_MILLIS.match(value):
            return m.group(1) + "<millis>"
        if m := DATA_ENDPOINT.match(value):
            return f"https://{m.group(1)}-<id>{m.group(2)}"
    return value


class Transcript:
    """Records the observable outcome of each call: normalised output or error."""

    def __init__(self, kvs, check_model: bool = False):
        self.kvs = kvs
        self.check_model = check_model
        self.entries: list[tuple[str, Any]] = []

    def call(self, method: str, drop: frozenset[str] = frozenset(), **params: Any) -> dict | None:
        try:
            response = getattr(self.kvs, method)(**params)
        except ClientError as exc:
            code, status, message = error_of(exc)
            if self.check_model:
                assert code in modelled_errors(method), f"{method}: {code} is not modelled"
            self.entries.append((method, {"error": code, "status": status, "message": message}))
            return None
        if self.check_model:
            check_output(method, response)
        self.entries.append((method, normalise(response, drop)))
        return response
