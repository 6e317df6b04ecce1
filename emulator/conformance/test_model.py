"""The emulator held to botocore's KVS model, operation by operation, through boto3.

- Every operation of the model is served, or listed in emulator/README.md ("Operations not
  served") with the reason; an operation served must be in the model.
- For every operation served, every error shape the model lists is produced by a scenario
  here (`SCENARIOS`), or listed in the README ("Modelled errors not produced") with the
  reason.
- Every constraint the model states on an input member (required, length, pattern, range,
  enum, list and map sizes) is broken alone and answered `InvalidArgumentException` naming
  the member and the constraint, or listed in the README ("Constraints not enforced as the
  model states").
- Every published quota of the operations served (the KVS and WebRTC developer guides,
  transcribed in `QUOTAS`) is the emulator's default and is enforced exactly: the quota's
  worth of calls pass and the next is `ClientLimitExceededException`, per account and per
  resource.

A new operation, error or constraint in the model, or a README line that no longer holds,
fails a test here.
"""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError

import model
import support
from model import arn, inputs, method

OPERATIONS = sorted(model.MODEL.operation_names)
ROLE = "arn:aws:iam::123456789012:role/team-a"


def served(emulator) -> set[str]:
    """The operations the emulator routes: any other path answers UnknownOperation."""
    found = set()
    for op in OPERATIONS:
        uri = model.MODEL.operation_model(op).http["requestUri"]
        _, headers, _ = support.raw_post(emulator.url, uri, b"{}", support.SIGNED_HEADERS)
        if headers.get("x-amzn-errortype") != "UnknownOperationException":
            found.add(op)
    return found


SERVED = [op for op in OPERATIONS
          if op not in {row[0] for row in model.readme_table("Operations not served")}]


def test_every_operation_is_served_or_listed_with_a_reason(emulator):
    listed = {row[0]: row[1] for row in model.readme_table("Operations not served")}
    assert all(reason for reason in listed.values()), "every row gives a reason"
    assert set(listed) <= set(OPERATIONS), "the README lists operations the model lacks"
    assert served(emulator) == set(OPERATIONS) - set(listed)


# --- errors ---------------------------------------------------------------------------------


class Env:
    """An emulator (immediate transitions, no quotas) with clients and helpers."""

    def __init__(self, emulator):
        self.emulator = emulator
        self.kvs = support.client(emulator.url)
        self.loose = support.client(emulator.url, parameter_validation=False)

    def settings(self, patch: dict) -> None:
        status, body = self.emulator.admin("PUT", "/_emulator/config", patch)
        assert status == 200, body

    def stream(self, name: str = "s", retention: int = 24) -> str:
        return support.call(self.kvs, "create_stream", StreamName=name,
                            DataRetentionInHours=retention)["StreamARN"]

    def channel(self, name: str = "c") -> str:
        return support.call(self.kvs, "create_signaling_channel",
                            ChannelName=name)["ChannelARN"]

    def stream_version(self, name: str = "s") -> str:
        return self.kvs.describe_stream(StreamName=name)["StreamInfo"]["Version"]

    def channel_version(self, name: str = "c") -> str:
        info = self.kvs.describe_signaling_channel(ChannelName=name)["ChannelInfo"]
        return info["Version"]

    def expect(self, op: str, code: str, params: dict, client=None) -> str:
        return support.expect_error(client or self.loose, method(op), code, **params)

    def role_client(self, **rule):
        """A KVS client acting as a role with the trust rule `rule`."""
        self.settings({"sts": {"roles": {ROLE: rule}}})
        sts = support.sts_client(self.emulator.url)
        assumed = sts.assume_role(RoleArn=ROLE, RoleSessionName="coverage")
        return support.client(self.emulator.url,
                              credentials=support.session_credentials(assumed),
                              parameter_validation=False)


def invalid_argument(op):
    """The input without its first required member (or, where none is required, with a
    MaxResults of 0, or naming nothing)."""
    def scenario(env):
        shape = model.MODEL.operation_model(op).input_shape
        params = inputs(op)
        if shape.required_members:
            params.pop(shape.required_members[0], None)
        elif "MaxResults" in params:
            params["MaxResults"] = 0
        else:
            params = {}
        env.expect(op, "InvalidArgumentException", params)
    return scenario


def throttled(op):
    """The account quota set to one call per second, without refill: the second call."""
    def scenario(env):
        env.settings({"quotas": {"enabled": True, "refill": False, "account_tps": {op: 1}}})
        params = inputs(op)
        try:
            getattr(env.loose, method(op))(**params)
        except ClientError as exc:
            assert support.error_of(exc)[0] != "ClientLimitExceededException"
        env.expect(op, "ClientLimitExceededException", params)
    return scenario


def not_found(op):
    """Naming a stream and a channel that do not exist."""
    return lambda env: env.expect(op, "ResourceNotFoundException", inputs(op))


def access_denied(op):
    """A role that may address only `team-a-` names, naming `team-b-` ones; a listing,
    which names nothing, by a role whose actions do not include it."""
    def scenario(env):
        params = inputs(op, stream="team-b-s", channel="team-b-c")
        if op.startswith("List") and "ResourceARN" not in params:
            client = env.role_client(actions=["DescribeStream"])
        else:
            client = env.role_client(name_prefixes=["team-a-"])
        env.expect(op, "AccessDeniedException", params, client)
    return scenario


def version_mismatch(op):
    """The resource exists; the request names a version it does not have."""
    def scenario(env):
        stream, channel = env.stream(), env.channel()
        params = inputs(op, stream_arn=stream, channel_arn=channel, version="stale0")
        env.expect(op, "VersionMismatchException", params)
    return scenario


def in_use(op):
    """A create of a name taken; any other call while the resource is still CREATING."""
    def scenario(env):
        if op.startswith("Create"):
            env.stream(), env.channel()
            env.expect(op, "ResourceInUseException", inputs(op))
            return
        if op == "UpdateMediaStorageConfiguration":
            # The stream already stores another channel's media.
            stream, channel = env.stream(), env.channel()
            other = env.channel("other")
            support.call(env.kvs, method(op), **inputs(op, stream_arn=stream,
                                                        channel_arn=other))
            env.expect(op, "ResourceInUseException",
                       inputs(op, stream_arn=stream, channel_arn=channel))
            return
        env.settings({"delays": {"create_ms": 60_000}})
        stream, channel = env.stream(), env.channel()
        params = inputs(op, stream_arn=stream, channel_arn=channel,
                        version=env.stream_version() if "Stream" in op or "Data" in op
                        else env.channel_version())
        env.expect(op, "ResourceInUseException", params)
    return scenario


def too_many_tags(op):
    """51 tags on a create; 50 already and one more on a tagging call."""
    def scenario(env):
        if op == "CreateStream":
            params = inputs(op) | {"Tags": {f"k{i}": "v" for i in range(51)}}
        elif op == "CreateSignalingChannel":
            params = inputs(op) | {"Tags": [{"Key": f"k{i}", "Value": "v"} for i in range(51)]}
        else:
            stream, channel = env.stream(), env.channel()
            env.kvs.tag_stream(StreamName="s", Tags={f"k{i}": "v" for i in range(50)})
            env.kvs.tag_resource(ResourceARN=channel,
                                 Tags=[{"Key": f"k{i}", "Value": "v"} for i in range(50)])
            params = inputs(op, stream_arn=stream, channel_arn=channel)
        env.expect(op, "TagsPerResourceExceededLimitException", params)
    return scenario


def account_limit(op, setting):
    """The account's limit of streams or channels set to none."""
    def scenario(env):
        env.settings({"limits": {setting: 0}})
        code = ("AccountStreamLimitExceededException" if setting == "max_streams"
                else "AccountChannelLimitExceededException")
        env.expect(op, code, inputs(op))
    return scenario


def invalid_resource_format(op):
    """A stream tagging operation given a signaling channel's ARN as StreamARN."""
    def scenario(env):
        params = inputs(op)
        params.pop("StreamName")
        params["StreamARN"] = env.channel()
        env.expect(op, "InvalidResourceFormatException", params)
    return scenario


def no_data_retention(op):
    """An ENABLED configuration naming a stream that keeps no data."""
    def scenario(env):
        stream, channel = env.stream(retention=0), env.channel()
        params = inputs(op, stream_arn=stream, channel_arn=channel)
        env.expect(op, "NoDataRetentionException", params)
    return scenario


GENERIC = {
    "InvalidArgumentException": invalid_argument,
    "ClientLimitExceededException": throttled,
    "ResourceNotFoundException": not_found,
    "AccessDeniedException": access_denied,
    "VersionMismatchException": version_mismatch,
    "ResourceInUseException": in_use,
    "TagsPerResourceExceededLimitException": too_many_tags,
    "InvalidResourceFormatException": invalid_resource_format,
    "NoDataRetentionException": no_data_retention,
    "AccountStreamLimitExceededException": lambda op: account_limit(op, "max_streams"),
    "AccountChannelLimitExceededException": lambda op: account_limit(op, "max_channels"),
}


def not_produced() -> dict[tuple[str, str], str]:
    rows = model.readme_table("Modelled errors not produced")
    return {(op, error): reason for ops, error, reason in rows
            for op in model.readme_operations(ops)}


def modelled_pairs() -> set[tuple[str, str]]:
    return {(op, shape.name) for op in SERVED
            for shape in model.MODEL.operation_model(op).error_shapes}


SCENARIOS = {pair: GENERIC[pair[1]](pair[0])
             for pair in sorted(modelled_pairs() - set(not_produced()))
             if pair[1] in GENERIC}


def test_every_modelled_error_has_a_scenario_or_a_reason():
    listed = not_produced()
    assert all(listed.values()), "every row gives a reason"
    assert set(listed) <= modelled_pairs(), "the README lists errors the model does not"
    assert set(SCENARIOS) == modelled_pairs() - set(listed)
    assert not set(SCENARIOS) & set(listed)


@pytest.mark.parametrize("pair", sorted(SCENARIOS), ids=lambda p: f"{p[0]}-{p[1]}")
def test_modelled_error(pair, emulator):
    SCENARIOS[pair](Env(emulator))


# --- constraints ---------------------------------------------------------------------------


def not_enforced() -> dict[tuple[str, str, str], str]:
    rows = model.readme_table("Constraints not enforced as the model states")
    return {(op, member, kind): reason for ops, member, kind, reason in rows
            for op in model.readme_operations(ops)}


CASES = [case for op in SERVED for case in model.constraint_cases(op)]


def test_the_listed_constraints_are_in_the_model():
    listed = not_enforced()
    assert all(listed.values()), "every row gives a reason"
    assert set(listed) <= {(c.op, c.member, c.kind) for c in CASES}


@pytest.fixture(scope="module")
def shared_loose_kvs(emulator_binary):
    """One emulator for every constraint case: each is refused before any state changes
    (or, for the cases the README lists, changes nothing another case reads)."""
    process = support.EmulatorProcess(emulator_binary, "--create-delay-ms", "0",
                                      "--no-quotas")
    yield support.client(process.url, parameter_validation=False)
    assert process.stop() == 0


@pytest.mark.parametrize("case", CASES, ids=str)
def test_constraint(case, shared_loose_kvs):
    """A broken constraint is an InvalidArgumentException that names the member and the
    constraint, unless the README says why not."""
    try:
        getattr(shared_loose_kvs, method(case.op))(**case.params)
        outcome = None
    except ClientError as exc:
        outcome = support.error_of(exc)
    reason = not_enforced().get((case.op, case.member, case.kind))
    if reason:
        assert outcome is None or outcome[0] != "InvalidArgumentException", \
            f"{case} is enforced: the README line is stale"
        return
    assert outcome is not None, f"{case}: accepted"
    code, status, message = outcome
    assert (code, status) == ("InvalidArgumentException", 400), outcome
    assert case.field.lower() in message.lower(), (case.field, message)
    assert case.phrase in message, (case.phrase, message)


# --- quotas --------------------------------------------------------------------------------

KVS_GUIDE = "https://docs.aws.amazon.com/kinesisvideostreams/latest/dg/limits.html"
WEBRTC_GUIDE = ("https://docs.aws.amazon.com/kinesisvideostreams-webrtc-dg/latest/devguide/"
                "kvswebrtc-limits.html")

# The published control-plane quotas: calls per second per account and region, and per
# stream or channel (None: no such quota).
QUOTAS = {
    "CreateStream": (50, None, KVS_GUIDE),
    "DeleteStream": (50, 5, KVS_GUIDE),
    "DescribeImageGenerationConfiguration": (50, 5, KVS_GUIDE),
    "DescribeNotificationConfiguration": (50, 5, KVS_GUIDE),
    "DescribeStream": (300, 5, KVS_GUIDE),
    "GetDataEndpoint": (300, 5, KVS_GUIDE),
    "ListStreams": (50, None, KVS_GUIDE),
    "ListTagsForStream": (50, 5, KVS_GUIDE),
    "TagStream": (50, 5, KVS_GUIDE),
    "UntagStream": (50, 5, KVS_GUIDE),
    "UpdateDataRetention": (50, 5, KVS_GUIDE),
    "UpdateImageGenerationConfiguration": (50, 5, KVS_GUIDE),
    "UpdateNotificationConfiguration": (50, 5, KVS_GUIDE),
    "UpdateStream": (50, 5, KVS_GUIDE),
    "UpdateStreamStorageConfiguration": (50, 5, KVS_GUIDE),
    "DescribeStreamStorageConfiguration": (50, 5, KVS_GUIDE),
    "CreateSignalingChannel": (50, None, WEBRTC_GUIDE),
    "DeleteSignalingChannel": (50, 5, WEBRTC_GUIDE),
    "DescribeMediaStorageConfiguration": (50, 5, WEBRTC_GUIDE),
    "DescribeSignalingChannel": (300, 5, WEBRTC_GUIDE),
    "GetSignalingChannelEndpoint": (300, None, WEBRTC_GUIDE),
    "ListSignalingChannels": (50, None, WEBRTC_GUIDE),
    "ListTagsForResource": (50, 5, WEBRTC_GUIDE),
    "TagResource": (50, 5, WEBRTC_GUIDE),
    "UntagResource": (50, 5, WEBRTC_GUIDE),
    "UpdateMediaStorageConfiguration": (10, 5, WEBRTC_GUIDE),
    "UpdateSignalingChannel": (50, 5, WEBRTC_GUIDE),
}


def test_every_served_operation_has_its_published_quota_by_default(emulator):
    assert set(SERVED) == set(QUOTAS)
    config = emulator.admin("GET", "/_emulator/config")[1]["quotas"]
    defaults = {op: config["account_tps"][op] for op in QUOTAS}
    assert defaults == {op: account for op, (account, _, _) in QUOTAS.items()}
    assert (config["per_stream_tps"], config["per_channel_tps"]) == (5, 5)


@pytest.fixture
def counted(start_emulator):
    """An emulator with the default quotas, whose buckets never refill: exactly a
    quota's worth of calls pass, however fast the client is."""
    emulator = start_emulator("--create-delay-ms", "0", "--delete-delay-ms", "0")
    status, _ = emulator.admin("PUT", "/_emulator/config", {"quotas": {"refill": False}})
    assert status == 200
    return emulator


def throttled_after(client, op: str, calls: list[dict]) -> int:
    """Makes the calls in turn; answers how many passed before the first
    ClientLimitExceededException (all of them, if none was throttled)."""
    for i, params in enumerate(calls):
        try:
            getattr(client, method(op))(**params)
        except ClientError as exc:
            if support.error_of(exc)[0] == "ClientLimitExceededException":
                return i
    return len(calls)


@pytest.mark.parametrize("op", sorted(QUOTAS))
def test_published_quota(op, counted):
    account, per_resource, _ = QUOTAS[op]
    client = support.client(counted.url, parameter_validation=False)
    # Distinct resources, so that only the account's bucket counts.
    distinct = [inputs(op, stream=f"s{i}", channel=f"c{i}") for i in range(account + 1)]
    assert throttled_after(client, op, distinct) == account
    if per_resource is None:
        return
    counted.admin("PUT", "/_emulator/config", {"quotas": {"refill": True}})
    counted.admin("PUT", "/_emulator/config", {"quotas": {"refill": False}})
    same = [inputs(op)] * (per_resource + 1)
    assert throttled_after(client, op, same) == per_resource


def test_the_readme_counts_are_current():
    pairs, listed = modelled_pairs(), not_produced()
    constraints = {(c.op, c.member, c.kind) for c in CASES}
    skipped = len(set(not_enforced()) & constraints)
    text = model.README.read_text(encoding="utf-8")
    line = " ".join(text.split())
    assert (f"{len(pairs) - len(listed)} of the {len(pairs)} error shapes produced, "
            f"{len(listed)} listed; {len(CASES) - skipped} of the {len(CASES)} constraints "
            f"enforced, {skipped} listed") in line
