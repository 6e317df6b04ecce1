"""The same boto3 scenarios against moto and against kvs-emulator, for the operations moto
implements (create/describe/list/delete/get_data_endpoint): the observable results must be
identical after `support.normalise`, which only masks what legitimately differs (random
versions and endpoint ids, creation times, the ARN's creation-millis suffix).

The emulator runs with zero transition delays here: moto has no CREATING/DELETING states,
so the comparison is of the settled results. Where moto departs from the AWS model the
emulator follows the model, and only that member is left out of the comparison, with the
reason next to it:

- KmsKeyId of a stream created without one: AWS reports the AWS-managed key ARN
  (`arn:aws:kms:<region>:<account>:alias/aws/kinesisvideo`); moto reports nothing.
- DataRetentionInHours of a stream created without one: AWS reports 0; moto nothing.
Scenarios that pass these members explicitly compare them in full.

moto does not implement pagination, StreamNameCondition, CurrentVersion checks, statuses
other than ACTIVE, validation, tags listing or the update operations: those scenarios run
against the emulator only (test_emulator.py).
"""

from __future__ import annotations

import pytest

import support
from support import ACCOUNT, REGION, Transcript

KMS_KEY = f"arn:aws:kms:{REGION}:{ACCOUNT}:key/1234abcd-12ab-34cd-56ef-1234567890ab"
API_NAMES = support.SERVICE_MODEL.shape_for("APIName").enum
# Members moto leaves out when the request did not give them (see the module docstring).
MOTO_OMITS_DEFAULTS = frozenset({"KmsKeyId", "DataRetentionInHours"})


def full_lifecycle(t: Transcript) -> None:
    created = t.call(
        "create_stream",
        StreamName="front-door",
        DeviceName="cam-01",
        MediaType="video/h264",
        KmsKeyId=KMS_KEY,
        DataRetentionInHours=24,
        Tags={"team": "security"},
    )
    arn = created["StreamARN"]
    described = t.call("describe_stream", StreamName="front-door")
    t.call("describe_stream", StreamARN=arn)
    t.call("list_streams")
    for api in API_NAMES:
        t.call("get_data_endpoint", StreamName="front-door", APIName=api)
        t.call("get_data_endpoint", StreamARN=arn, APIName=api)
    t.call("delete_stream", StreamARN=arn, CurrentVersion=described["StreamInfo"]["Version"])
    t.call("describe_stream", StreamName="front-door")
    t.call("describe_stream", StreamARN=arn)
    t.call("get_data_endpoint", StreamName="front-door", APIName="PUT_MEDIA")
    t.call("delete_stream", StreamARN=arn)
    t.call("list_streams")


def minimal_stream(t: Transcript) -> None:
    t.call("create_stream", StreamName="bare")
    t.call("describe_stream", drop=MOTO_OMITS_DEFAULTS, StreamName="bare")
    t.call("list_streams", drop=MOTO_OMITS_DEFAULTS)


def duplicate_name(t: Transcript) -> None:
    t.call("create_stream", StreamName="dup", DataRetentionInHours=1, KmsKeyId=KMS_KEY)
    t.call("create_stream", StreamName="dup", DataRetentionInHours=2, KmsKeyId=KMS_KEY)
    t.call("describe_stream", StreamName="dup")


def missing_streams(t: Transcript) -> None:
    missing_arn = f"arn:aws:kinesisvideo:{REGION}:{ACCOUNT}:stream/ghost/1598784211076"
    t.call("describe_stream", StreamName="ghost")
    t.call("describe_stream", StreamARN=missing_arn)
    t.call("get_data_endpoint", StreamName="ghost", APIName="GET_MEDIA")
    t.call("delete_stream", StreamARN=missing_arn)
    t.call("list_streams")


def several_streams(t: Transcript) -> None:
    # Created in name order: the emulator lists by name, moto by insertion.
    arns = {}
    for i, name in enumerate(["alpha", "bravo", "charlie"]):
        created = t.call(
            "create_stream",
            StreamName=name,
            DeviceName=f"dev-{i}",
            MediaType="video/h265,audio/aac",
            KmsKeyId=KMS_KEY,
            DataRetentionInHours=i * 10,
        )
        arns[name] = created["StreamARN"]
    t.call("list_streams")
    t.call("delete_stream", StreamARN=arns["bravo"])
    t.call("list_streams")


def recreate_after_delete(t: Transcript) -> None:
    arn = t.call("create_stream", StreamName="again", KmsKeyId=KMS_KEY, DataRetentionInHours=5)[
        "StreamARN"
    ]
    t.call("delete_stream", StreamARN=arn)
    t.call("create_stream", StreamName="again", KmsKeyId=KMS_KEY, DataRetentionInHours=6)
    t.call("describe_stream", StreamName="again")


SCENARIOS = [full_lifecycle, minimal_stream, duplicate_name, missing_streams, several_streams,
             recreate_after_delete]


@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda s: s.__name__)
def test_same_observable_results(scenario, kvs, moto_kvs):
    on_moto, on_emulator = Transcript(moto_kvs), Transcript(kvs, check_model=True)
    scenario(on_moto)
    scenario(on_emulator)
    assert len(on_emulator.entries) == len(on_moto.entries)
    for (method, from_moto), (_, from_emulator) in zip(on_moto.entries, on_emulator.entries):
        assert from_emulator == from_moto, method


def test_the_comparison_is_not_vacuous(kvs, moto_kvs):
    """The transcripts carry real values, so equal transcripts mean equal behaviour."""
    on_moto, on_emulator = Transcript(moto_kvs), Transcript(kvs, check_model=True)
    full_lifecycle(on_moto)
    full_lifecycle(on_emulator)
    entries = dict(on_emulator.entries[:2])
    info = entries["describe_stream"]["StreamInfo"]
    assert info == {
        "DeviceName": "cam-01",
        "StreamName": "front-door",
        "StreamARN": f"arn:aws:kinesisvideo:{REGION}:{ACCOUNT}:stream/front-door/<millis>",
        "MediaType": "video/h264",
        "KmsKeyId": KMS_KEY,
        "Version": "<version>",
        "Status": "ACTIVE",
        "CreationTime": "<time>",
        "DataRetentionInHours": 24,
    }
    errors = [e for _, e in on_emulator.entries if "error" in e]
    assert errors == [
        {"error": "ResourceNotFoundException", "status": 404,
         "message": "The requested stream is not found or not active."}
    ] * 4
    endpoints = {e["DataEndpoint"] for m, e in on_emulator.entries if m == "get_data_endpoint"
                 and "DataEndpoint" in e}
    assert endpoints == {
        f"https://s-<id>.kinesisvideo.{REGION}.amazonaws.com",
        f"https://b-<id>.kinesisvideo.{REGION}.amazonaws.com",
    }


def test_emulator_fills_in_what_moto_omits(kvs):
    """The members excluded above, checked against the model's semantics instead."""
    support.call(kvs, "create_stream", StreamName="bare")
    info = support.call(kvs, "describe_stream", StreamName="bare")["StreamInfo"]
    assert info["KmsKeyId"] == f"arn:aws:kms:{REGION}:{ACCOUNT}:alias/aws/kinesisvideo"
    assert info["DataRetentionInHours"] == 0
