"""What the coverage tests read about the AWS model and the emulator's README.

- `inputs(op)`: a valid input of every KVS operation with every member the model gives it,
  naming resources that tests may or may not create;
- `constraint_cases(op)`: every constraint the model states on the members of that input
  (required, length, pattern, range, enum, list and map sizes), each with an input that
  breaks only it;
- `readme_table(title)`: the rows of a table in emulator/README.md, where what is not
  emulated is listed with the reason.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any, Iterator

from botocore import xform_name

import support
from support import ACCOUNT, REGION

MODEL = support.SERVICE_MODEL
README = support.REPO_ROOT / "emulator" / "README.md"


def method(op: str) -> str:
    """boto3's method name of an operation, e.g. `create_stream`."""
    return xform_name(op)


def arn(kind: str, name: str) -> str:
    """A well-formed ARN of a stream or channel in the default account and region."""
    return f"arn:aws:kinesisvideo:{REGION}:{ACCOUNT}:{kind}/{name}/1700000000000"


def images() -> dict:
    """A valid ImageGenerationConfiguration with every member."""
    return {
        "Status": "ENABLED",
        "ImageSelectorType": "SERVER_TIMESTAMP",
        "DestinationConfig": {"Uri": "s3://thumbnails/front", "DestinationRegion": REGION},
        "SamplingInterval": 3000,
        "Format": "JPEG",
        "FormatConfig": {"JPEGQuality": "80"},
        "WidthPixels": 320,
        "HeightPixels": 240,
    }


def notifications() -> dict:
    return {"Status": "ENABLED",
            "DestinationConfig": {"Uri": f"arn:aws:sns:{REGION}:{ACCOUNT}:events"}}


def inputs(op: str, stream: str = "s", channel: str = "c", stream_arn: str | None = None,
           channel_arn: str | None = None, version: str = "v1") -> dict:
    """A valid input of `op` with every member of its shape, naming stream `stream` and
    channel `channel` (by name, and by ARN: `stream_arn`/`channel_arn`, made up when not
    given). Members an operation takes by name *or* ARN get the name only, so the two
    cannot disagree; `full_input` adds the ARN."""
    stream_arn = stream_arn or arn("stream", stream)
    channel_arn = channel_arn or arn("channel", channel)
    by_name = {"StreamName": stream}
    return copy.deepcopy({
        "CreateStream": {
            "StreamName": stream, "DeviceName": "cam-1", "MediaType": "video/h264",
            "KmsKeyId": "alias/cams", "DataRetentionInHours": 24, "Tags": {"team": "a"},
            "StreamStorageConfiguration": {"DefaultStorageTier": "HOT"},
        },
        "DescribeStream": by_name,
        "ListStreams": {
            "MaxResults": 10, "NextToken": "",
            "StreamNameCondition": {"ComparisonOperator": "BEGINS_WITH",
                                    "ComparisonValue": stream},
        },
        "UpdateStream": by_name | {"CurrentVersion": version, "DeviceName": "cam-2",
                                   "MediaType": "video/h265"},
        "UpdateDataRetention": by_name | {
            "CurrentVersion": version, "Operation": "INCREASE_DATA_RETENTION",
            "DataRetentionChangeInHours": 1},
        "TagStream": by_name | {"Tags": {"team": "b"}},
        "UntagStream": by_name | {"TagKeyList": ["team"]},
        "ListTagsForStream": by_name | {"NextToken": ""},
        "DeleteStream": {"StreamARN": stream_arn, "CurrentVersion": version},
        "GetDataEndpoint": by_name | {"APIName": "GET_MEDIA"},
        "DescribeStreamStorageConfiguration": by_name,
        "UpdateStreamStorageConfiguration": by_name | {
            "CurrentVersion": version,
            "StreamStorageConfiguration": {"DefaultStorageTier": "WARM"}},
        "DescribeImageGenerationConfiguration": by_name,
        "UpdateImageGenerationConfiguration": by_name | {
            "ImageGenerationConfiguration": images()},
        "DescribeNotificationConfiguration": by_name,
        "UpdateNotificationConfiguration": by_name | {
            "NotificationConfiguration": notifications()},
        "CreateSignalingChannel": {
            "ChannelName": channel, "ChannelType": "SINGLE_MASTER",
            "SingleMasterConfiguration": {"MessageTtlSeconds": 60},
            "Tags": [{"Key": "team", "Value": "a"}],
        },
        "DescribeSignalingChannel": {"ChannelName": channel},
        "ListSignalingChannels": {
            "MaxResults": 10, "NextToken": "",
            "ChannelNameCondition": {"ComparisonOperator": "BEGINS_WITH",
                                     "ComparisonValue": channel},
        },
        "UpdateSignalingChannel": {"ChannelARN": channel_arn, "CurrentVersion": version,
                                   "SingleMasterConfiguration": {"MessageTtlSeconds": 30}},
        "DeleteSignalingChannel": {"ChannelARN": channel_arn, "CurrentVersion": version},
        "GetSignalingChannelEndpoint": {
            "ChannelARN": channel_arn,
            "SingleMasterChannelEndpointConfiguration": {"Protocols": ["WSS"],
                                                         "Role": "MASTER"}},
        "DescribeMediaStorageConfiguration": {"ChannelName": channel},
        "UpdateMediaStorageConfiguration": {
            "ChannelARN": channel_arn,
            "MediaStorageConfiguration": {"Status": "ENABLED", "StreamARN": stream_arn}},
        "TagResource": {"ResourceARN": channel_arn, "Tags": [{"Key": "team", "Value": "b"}]},
        "UntagResource": {"ResourceARN": channel_arn, "TagKeyList": ["team"]},
        "ListTagsForResource": {"ResourceARN": channel_arn, "NextToken": ""},
    }[op])


def full_input(op: str) -> dict:
    """`inputs(op)` with every member of the shape present, the ARN beside the name and
    a non-empty NextToken, as the constraint cases need a valid value of each member."""
    full = inputs(op)
    members = MODEL.operation_model(op).input_shape.members
    if "StreamARN" in members:
        full.setdefault("StreamARN", arn("stream", full.get("StreamName", "s")))
    if "ChannelARN" in members:
        full.setdefault("ChannelARN", arn("channel", full.get("ChannelName", "c")))
    if "NextToken" in full:
        full["NextToken"] = "abcd"
    missing = set(members) - set(full)
    assert not missing, f"{op}: the test input lacks {missing}"
    return full


# --- constraints ---------------------------------------------------------------------------

# Characters tried in turn to break a pattern while keeping the length.
PATTERN_BREAKERS = [";", " ", "*", "!", "\n", "#", "~", "é"]


@dataclass(frozen=True)
class Case:
    """One constraint of one member, and an input that breaks only it."""

    op: str
    path: tuple[str, ...]
    kind: str
    limit: Any
    params: dict

    @property
    def member(self) -> str:
        """The member path as the README writes it, e.g. `Tags{key}`, `A.B[]`."""
        text = ""
        for part in self.path:
            text += part if part.startswith(("[", "{")) else ("." if text else "") + part
        return text

    @property
    def field(self) -> str:
        """The name the error message must mention: the innermost named member."""
        return next(p for p in reversed(self.path) if not p.startswith(("[", "{")))

    @property
    def phrase(self) -> str:
        """What the message must say of the constraint."""
        return {
            "required": "must not be null",
            "min": f"greater than or equal to {self.limit}",
            "max": f"less than or equal to {self.limit}",
            "pattern": "regular expression pattern",
            "enum": "enum value set",
        }[self.kind]

    def __str__(self) -> str:
        return f"{self.op} {self.member} {self.kind}"


def constraint_cases(op: str) -> Iterator[Case]:
    full = full_input(op)
    yield from _structure_cases(op, MODEL.operation_model(op).input_shape, full, (), full)


def _structure_cases(op, shape, value, path, full) -> Iterator[Case]:
    for name, member in shape.members.items():
        member_path = path + (name,)
        if name in shape.required_members:
            yield Case(op, member_path, "required", None, _set(full, member_path, _DELETE))
        yield from _member_cases(op, member, value[name], member_path, full)


def _member_cases(op, shape, value, path, full) -> Iterator[Case]:
    kind, meta = shape.type_name, shape.metadata

    def case(constraint, limit, broken):
        return Case(op, path, constraint, limit, _set(full, path, broken))

    if kind == "structure":
        yield from _structure_cases(op, shape, value, path, full)
    elif kind == "string":
        if shape.enum:
            yield case("enum", None, "NOT_IN_THE_MODEL")
        if meta.get("min", 0) > 0:
            yield case("min", meta["min"], value[: meta["min"] - 1])
        if "max" in meta:
            yield case("max", meta["max"], value + value[-1] * (meta["max"] + 1 - len(value)))
        if "pattern" in meta:
            yield case("pattern", meta["pattern"], _break_pattern(meta, value, path))
    elif kind in ("integer", "long"):
        if "min" in meta:
            yield case("min", meta["min"], meta["min"] - 1)
        if "max" in meta:
            yield case("max", meta["max"], meta["max"] + 1)
    elif kind == "list":
        if meta.get("min", 0) > 0:
            yield case("min", meta["min"], value[: meta["min"] - 1])
        if "max" in meta:
            yield case("max", meta["max"], (value * (meta["max"] + 1))[: meta["max"] + 1])
        yield from _member_cases(op, shape.member, value[0], path + ("[]",), full)
    elif kind == "map":
        first_key, first_value = next(iter(value.items()))
        if meta.get("min", 0) > 0:
            yield case("min", meta["min"], {})
        if "max" in meta:
            yield case("max", meta["max"],
                       {f"k{i}": first_value for i in range(meta["max"] + 1)})
        yield from _member_cases(op, shape.key, first_key, path + ("{key}",), full)
        yield from _member_cases(op, shape.value, first_value, path + ("{value}",), full)
    else:
        raise AssertionError(f"{op} {path}: shape type {kind} not handled")


def _break_pattern(meta, value, path) -> str:
    low, high = meta.get("min", 0), meta.get("max", 1 << 30)
    for breaker in PATTERN_BREAKERS:
        broken = breaker + value[1:] if value else breaker
        if low <= len(broken) <= high and not support._matches(meta["pattern"], broken):
            return broken
    raise AssertionError(f"{path}: no value breaks {meta['pattern']} within its length")


_DELETE = object()


def _set(full: dict, path: tuple[str, ...], new: Any) -> dict:
    """A copy of `full` with the member at `path` replaced by `new` (or removed)."""
    params = copy.deepcopy(full)
    parent, last = params, path[-1]
    for part in path[:-1]:
        parent = _step(parent, part)
    if last == "[]":
        parent[0] = new
    elif last in ("{key}", "{value}"):
        key, item = next(iter(parent.items()))
        parent.clear()
        parent.update({new: item} if last == "{key}" else {key: new})
    elif new is _DELETE:
        del parent[last]
    else:
        parent[last] = new
    return params


def _step(value, part):
    if part == "[]":
        return value[0]
    if part == "{value}":
        return next(iter(value.values()))
    return value[part]


# --- the README --------------------------------------------------------------------------


def readme_table(title: str) -> list[list[str]]:
    """The rows (cells stripped of backquotes) of the table under the heading `title`."""
    lines = README.read_text(encoding="utf-8").splitlines()
    start = next(i for i, line in enumerate(lines) if line.strip("# ").strip() == title)
    rows = []
    for line in lines[start + 1:]:
        if line.startswith("#"):
            break
        if not line.startswith("|") or set(line) <= set("|-: "):
            continue
        rows.append([cell.strip().replace("`", "") for cell in line.strip("|").split("|")])
    assert rows, f"README: no table under {title!r}"
    return rows[1:]  # without the header row


def readme_operations(cell: str) -> list[str]:
    """The operations a README cell names, comma-separated."""
    return [op.strip() for op in cell.split(",") if op.strip()]
