"""boto3 against kvs-emulator for what moto does not implement: statuses and versions,
updates, retention deltas, tags, pagination, validation, storage tiers, quotas, faults,
authentication and bad input. Every successful response is checked against the output
shape of botocore's model and every error against the operation's modelled errors.
"""

from __future__ import annotations

import time

import pytest
from botocore import UNSIGNED
from botocore.exceptions import ClientError

import support
from support import ACCOUNT, REGION, call, expect_error


def wait_for(kvs, name: str, status: str, timeout: float = 10.0) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        info = call(kvs, "describe_stream", StreamName=name)["StreamInfo"]
        if info["Status"] == status:
            return info
        assert time.monotonic() < deadline, f"{name} stuck in {info['Status']}"
        time.sleep(0.25)  # stays under the 5/s per-stream quota


def version(kvs, name: str) -> str:
    return call(kvs, "describe_stream", StreamName=name)["StreamInfo"]["Version"]


def test_statuses_and_versions_with_delays(start_emulator):
    emulator = start_emulator("--create-delay-ms", "1000", "--update-delay-ms", "1000",
                              "--delete-delay-ms", "1000")
    kvs = support.client(emulator.url)
    arn = call(kvs, "create_stream", StreamName="cam", DataRetentionInHours=1)["StreamARN"]
    info = call(kvs, "describe_stream", StreamARN=arn)["StreamInfo"]
    assert info["Status"] == "CREATING"
    expect_error(kvs, "update_stream", "ResourceInUseException", StreamName="cam",
                 CurrentVersion=info["Version"], DeviceName="d")
    expect_error(kvs, "delete_stream", "ResourceInUseException", StreamARN=arn)
    active = wait_for(kvs, "cam", "ACTIVE")
    assert active["Version"] == info["Version"]

    call(kvs, "update_stream", StreamName="cam", CurrentVersion=active["Version"],
         DeviceName="d2")
    updating = call(kvs, "describe_stream", StreamName="cam")["StreamInfo"]
    assert updating["Status"] == "UPDATING"
    assert updating["Version"] != active["Version"]
    assert updating["DeviceName"] == "d2"
    expect_error(kvs, "update_data_retention", "ResourceInUseException", StreamName="cam",
                 CurrentVersion=updating["Version"], Operation="INCREASE_DATA_RETENTION",
                 DataRetentionChangeInHours=1)
    settled = wait_for(kvs, "cam", "ACTIVE")

    call(kvs, "delete_stream", StreamARN=arn, CurrentVersion=settled["Version"])
    assert call(kvs, "describe_stream", StreamName="cam")["StreamInfo"]["Status"] == "DELETING"
    listed = call(kvs, "list_streams")["StreamInfoList"]
    assert [s["Status"] for s in listed] == ["DELETING"]
    expect_error(kvs, "create_stream", "ResourceInUseException", StreamName="cam")
    time.sleep(1.2)
    expect_error(kvs, "describe_stream", "ResourceNotFoundException", 404, StreamName="cam")


def test_versions_and_update_semantics(kvs):
    arn = call(kvs, "create_stream", StreamName="v", DeviceName="d1",
               MediaType="video/h264")["StreamARN"]
    v1 = version(kvs, "v")
    call(kvs, "update_stream", StreamARN=arn, CurrentVersion=v1, MediaType="video/h265")
    info = call(kvs, "describe_stream", StreamName="v")["StreamInfo"]
    assert (info["DeviceName"], info["MediaType"]) == ("d1", "video/h265")
    v2 = info["Version"]
    assert v2 != v1
    message = expect_error(kvs, "update_stream", "VersionMismatchException", StreamName="v",
                           CurrentVersion=v1, DeviceName="x")
    assert v1 in message
    expect_error(kvs, "delete_stream", "VersionMismatchException", StreamARN=arn,
                 CurrentVersion=v1)
    call(kvs, "tag_stream", StreamName="v", Tags={"a": "b"})
    assert version(kvs, "v") == v2, "tags are not part of the stream version"
    call(kvs, "delete_stream", StreamARN=arn, CurrentVersion=v2)


def test_retention_is_a_delta_within_bounds(kvs):
    call(kvs, "create_stream", StreamName="r", DataRetentionInHours=24)

    def change(operation: str, hours: int) -> None:
        call(kvs, "update_data_retention", StreamName="r", CurrentVersion=version(kvs, "r"),
             Operation=operation, DataRetentionChangeInHours=hours)

    def retention() -> int:
        return call(kvs, "describe_stream", StreamName="r")["StreamInfo"]["DataRetentionInHours"]

    change("INCREASE_DATA_RETENTION", 48)
    assert retention() == 72
    change("DECREASE_DATA_RETENTION", 72)
    assert retention() == 0
    for operation, hours in [("DECREASE_DATA_RETENTION", 1), ("INCREASE_DATA_RETENTION", 87601)]:
        expect_error(kvs, "update_data_retention", "InvalidArgumentException", StreamName="r",
                     CurrentVersion=version(kvs, "r"), Operation=operation,
                     DataRetentionChangeInHours=hours)
    change("INCREASE_DATA_RETENTION", 87600)
    assert retention() == 87600
    expect_error(kvs, "create_stream", "InvalidArgumentException", StreamName="r2",
                 DataRetentionInHours=87601)


def test_tags(start_emulator):
    emulator = start_emulator("--no-quotas", "--create-delay-ms", "0", "--tags-page-size", "7")
    kvs = support.client(emulator.url)
    arn = call(kvs, "create_stream", StreamName="t",
               Tags={f"k{i:02}": f"v{i}" for i in range(20)})["StreamARN"]

    def all_tags() -> dict:
        tags, token, pages = {}, None, 0
        while True:
            params = {"StreamARN": arn} | ({"NextToken": token} if token else {})
            page = call(kvs, "list_tags_for_stream", **params)
            pages += 1
            tags.update(page["Tags"])
            token = page.get("NextToken")
            if not token:
                return tags | {"__pages": pages}

    assert all_tags() == {f"k{i:02}": f"v{i}" for i in range(20)} | {"__pages": 3}
    call(kvs, "tag_stream", StreamName="t", Tags={"k00": "changed", "Équipe": "sécurité"})
    call(kvs, "untag_stream", StreamName="t", TagKeyList=["k01", "absent"])
    tags = all_tags()
    assert tags["k00"] == "changed" and tags["Équipe"] == "sécurité" and "k01" not in tags
    assert len(tags) - 1 == 20

    call(kvs, "tag_stream", StreamName="t", Tags={f"x{i:02}": "" for i in range(30)})
    expect_error(kvs, "tag_stream", "TagsPerResourceExceededLimitException", StreamName="t",
                 Tags={"one-more": "x"})
    expect_error(kvs, "create_stream", "TagsPerResourceExceededLimitException",
                 StreamName="t2", Tags={f"k{i}": "v" for i in range(51)})
    expect_error(kvs, "tag_stream", "InvalidArgumentException", StreamName="t",
                 Tags={"aws:reserved": "x"})
    expect_error(kvs, "tag_stream", "InvalidArgumentException", StreamName="t",
                 Tags={"semi;colon": "x"})
    expect_error(kvs, "tag_stream", "InvalidResourceFormatException",
                 StreamARN=arn.replace(":stream/", ":channel/"), Tags={"a": "b"})
    expect_error(kvs, "list_tags_for_stream", "ResourceNotFoundException", StreamName="nope")
    assert emulator.admin("GET", "/_emulator/streams")[1]["streams"][0]["Tags"]["k00"] == "changed"


def test_list_streams_pagination_and_prefix(kvs, loose_kvs):
    names = [f"cam-{i:03}" for i in range(45)] + ["door-1", "door-2"]
    for name in names:
        call(kvs, "create_stream", StreamName=name)
    paginator = kvs.get_paginator("list_streams")
    pages = list(paginator.paginate(
        StreamNameCondition={"ComparisonOperator": "BEGINS_WITH", "ComparisonValue": "cam-"},
        PaginationConfig={"PageSize": 10},
    ))
    assert [len(p["StreamInfoList"]) for p in pages] == [10, 10, 10, 10, 5]
    for page in pages:
        support.check_output("list_streams", page)
    listed = [s["StreamName"] for p in pages for s in p["StreamInfoList"]]
    assert listed == names[:45]
    doors = call(kvs, "list_streams", StreamNameCondition={
        "ComparisonOperator": "BEGINS_WITH", "ComparisonValue": "door"})
    assert [s["StreamName"] for s in doors["StreamInfoList"]] == ["door-1", "door-2"]
    assert "NextToken" not in doors
    assert len(call(kvs, "list_streams", MaxResults=10000)["StreamInfoList"]) == 47
    for bad in [{"MaxResults": 10001}, {"MaxResults": 0}, {"NextToken": "xyz"}]:
        expect_error(loose_kvs, "list_streams", "InvalidArgumentException", **bad)


def test_validation_names_the_field(kvs, loose_kvs):
    cases = [
        ("create_stream", {"StreamName": "bad name"}, "streamName"),
        ("create_stream", {"StreamName": "n" * 257}, "streamName"),
        ("create_stream", {"StreamName": "ok", "DeviceName": "d" * 129}, "deviceName"),
        ("create_stream", {"StreamName": "ok", "MediaType": "h264"}, "mediaType"),
        ("create_stream", {"StreamName": "ok", "DataRetentionInHours": -1},
         "dataRetentionInHours"),
        ("create_stream", {"StreamName": ""}, "streamName"),
        ("describe_stream", {"StreamARN": "arn:aws:s3:::bucket"}, "streamARN"),
        ("update_data_retention", {"StreamName": "ok", "CurrentVersion": "a",
                                   "Operation": "INCREASE_DATA_RETENTION",
                                   "DataRetentionChangeInHours": 0},
         "dataRetentionChangeInHours"),
        ("untag_stream", {"StreamName": "ok", "TagKeyList": []}, "tagKeyList"),
        ("update_stream", {"StreamName": "ok", "CurrentVersion": "not valid!"},
         "currentVersion"),
        ("get_data_endpoint", {"StreamName": "ok", "APIName": "PUT_NOTHING"}, "APIName"),
        ("update_data_retention", {"StreamName": "ok", "CurrentVersion": "a",
                                   "Operation": "GROW", "DataRetentionChangeInHours": 1},
         "operation"),
        ("update_stream_storage_configuration",
         {"StreamName": "ok", "CurrentVersion": "a",
          "StreamStorageConfiguration": {"DefaultStorageTier": "COLD"}},
         "streamStorageConfiguration.defaultStorageTier"),
    ]
    for method, params, field in cases:
        message = expect_error(loose_kvs, method, "InvalidArgumentException", 400, **params)
        assert f"'{field}'" in message, (method, message)
    expect_error(kvs, "describe_stream", "InvalidArgumentException")
    # A member of the wrong JSON type is a SerializationException (not modelled, as on
    # AWS), naming the member.
    message = expect_error(loose_kvs, "create_stream", "SerializationException", 400,
                           StreamName="ok", DataRetentionInHours="24")
    assert "'DataRetentionInHours'" in message, message
    assert call(kvs, "list_streams")["StreamInfoList"] == []


def test_data_endpoints_and_storage_tier(kvs):
    arn = call(kvs, "create_stream", StreamName="s",
               StreamStorageConfiguration={"DefaultStorageTier": "WARM"})["StreamARN"]
    for api in support.SERVICE_MODEL.shape_for("APIName").enum:
        endpoint = call(kvs, "get_data_endpoint", StreamARN=arn, APIName=api)["DataEndpoint"]
        assert endpoint.startswith("https://s-" if api in ("PUT_MEDIA", "GET_MEDIA")
                                   else "https://b-"), (api, endpoint)
        assert endpoint.endswith(f".kinesisvideo.{REGION}.amazonaws.com")
    storage = call(kvs, "describe_stream_storage_configuration", StreamName="s")
    assert storage["StreamStorageConfiguration"] == {"DefaultStorageTier": "WARM"}
    assert storage["StreamARN"] == arn
    call(kvs, "update_stream_storage_configuration", StreamName="s",
         CurrentVersion=version(kvs, "s"),
         StreamStorageConfiguration={"DefaultStorageTier": "HOT"})
    storage = call(kvs, "describe_stream_storage_configuration", StreamARN=arn)
    assert storage["StreamStorageConfiguration"] == {"DefaultStorageTier": "HOT"}
    expect_error(kvs, "update_stream_storage_configuration", "VersionMismatchException",
                 StreamName="s", CurrentVersion="stale",
                 StreamStorageConfiguration={"DefaultStorageTier": "WARM"})


def test_default_quotas_throttle(start_emulator):
    emulator = start_emulator("--create-delay-ms", "0")
    kvs = support.client(emulator.url)
    call(kvs, "create_stream", StreamName="q")
    outcomes = []
    for _ in range(12):
        try:
            call(kvs, "describe_stream", StreamName="q")
            outcomes.append("ok")
        except ClientError as exc:
            assert type(exc).__name__ == "ClientLimitExceededException"
            assert support.error_of(exc)[1] == 400
            outcomes.append("throttled")
    assert outcomes[:5] == ["ok"] * 5 and "throttled" in outcomes[5:]
    calls = emulator.admin("GET", "/_emulator/calls")[1]
    assert calls["DescribeStream"]["errors"]["ClientLimitExceededException"] >= 2

    status, _ = emulator.admin("PUT", "/_emulator/config", {"quotas": {"enabled": False}})
    assert status == 200
    for _ in range(20):
        call(kvs, "describe_stream", StreamName="q")


def test_injected_errors_and_retries(start_emulator):
    emulator = start_emulator("--no-quotas", "--create-delay-ms", "0", "--error-rate", "1")
    kvs = support.client(emulator.url)
    try:
        kvs.list_streams()
        raise AssertionError("must fail")
    except ClientError as exc:
        assert support.error_of(exc)[:2] == ("InternalFailure", 500)
    emulator.admin("PUT", "/_emulator/config", {"faults": {"error_rate": 0.3}})
    retrying = support.client(emulator.url, retries={"max_attempts": 10, "mode": "standard"})
    for i in range(10):
        retrying.create_stream(StreamName=f"s{i}")
    emulator.admin("PUT", "/_emulator/config", {"faults": {"error_rate": 0}})
    assert len(call(kvs, "list_streams")["StreamInfoList"]) == 10


def test_unsigned_requests_are_refused(emulator):
    unsigned = support.client(emulator.url, signature_version=UNSIGNED)
    with pytest.raises(ClientError) as raised:
        unsigned.list_streams()
    assert support.error_of(raised.value) == (
        "MissingAuthenticationTokenException", 403, "Missing Authentication Token")


def test_badly_signed_requests_are_refused(emulator):
    """Signed with the wrong secret for credentials the emulator issued (it knows their
    secret): KVS answers InvalidSignatureException, STS SignatureDoesNotMatch, both 403,
    and nothing happens."""
    assumed = support.sts_client(emulator.url).assume_role(
        RoleArn="arn:aws:iam::111111111111:role/r", RoleSessionName="forger")
    forged = support.session_credentials(assumed) | {"aws_secret_access_key": "wrong"}
    kvs = support.client(emulator.url, credentials=forged)
    with pytest.raises(ClientError) as raised:
        kvs.create_stream(StreamName="forged")
    code, status, message = support.error_of(raised.value)
    assert (code, status) == ("InvalidSignatureException", 403)
    assert "signature we calculated" in message
    with pytest.raises(ClientError) as raised:
        support.sts_client(emulator.url, credentials=forged).get_caller_identity()
    assert support.error_of(raised.value)[:2] == ("SignatureDoesNotMatch", 403)
    honest = support.client(emulator.url, credentials=support.session_credentials(assumed))
    assert call(honest, "list_streams")["StreamInfoList"] == []


@pytest.mark.parametrize(
    "path, body, headers, status, code",
    [
        ("/createStream", b"{not json", {}, 400, "SerializationException"),
        ("/createStream", b'{"StreamName": 5}', {}, 400, "SerializationException"),
        ("/createStream", b"<x/>", {"Content-Type": "application/xml"}, 415,
         "UnsupportedMediaTypeException"),
        ("/createStream", b" " * (2 * 1024 * 1024), {}, 413, "RequestEntityTooLargeException"),
        ("/describeEdgeConfiguration", b"{}", {}, 404, "UnknownOperationException"),
        ("/listStreams", b"{}", {"Authorization": "AWS4-HMAC-SHA256 Credential=testing"}, 403,
         "IncompleteSignatureException"),
    ],
)
def test_bad_input_keeps_state(emulator, kvs, path, body, headers, status, code):
    call(kvs, "create_stream", StreamName="keep", Tags={"a": "b"})
    before = emulator.admin("GET", "/_emulator/streams")[1]
    got_status, got_headers, got_body = support.raw_post(
        emulator.url, path, body,
        support.SIGNED_HEADERS | {"Content-Type": "application/json"} | headers)
    assert (got_status, got_headers.get("x-amzn-errortype")) == (status, code)
    assert got_body["Message"] and got_body["message"] == got_body["Message"]
    assert emulator.admin("GET", "/_emulator/streams")[1] == before
    assert call(kvs, "describe_stream", StreamName="keep")["StreamInfo"]["StreamName"] == "keep"


def test_arn_and_kms_formats(kvs):
    millis_before = int(time.time() * 1000)
    arn = call(kvs, "create_stream", StreamName="fmt", KmsKeyId="alias/cams")["StreamARN"]
    prefix = f"arn:aws:kinesisvideo:{REGION}:{ACCOUNT}:stream/fmt/"
    assert arn.startswith(prefix)
    assert abs(int(arn[len(prefix):]) - millis_before) < 5000
    info = call(kvs, "describe_stream", StreamName="fmt")["StreamInfo"]
    assert info["KmsKeyId"] == f"arn:aws:kms:{REGION}:{ACCOUNT}:alias/cams"
    assert abs(info["CreationTime"].timestamp() * 1000 - int(arn[len(prefix):])) < 2


def test_cli_flags(start_emulator):
    emulator = start_emulator("--create-delay-ms", "0", "--quota", "CreateStream=2",
                              "--max-streams", "3", "--data-endpoint", "http://media.local",
                              "--region", "eu-west-1", "--account-id", "111122223333")
    kvs = support.client(emulator.url, region="eu-west-1")
    arn = call(kvs, "create_stream", StreamName="a")["StreamARN"]
    assert arn.startswith("arn:aws:kinesisvideo:eu-west-1:111122223333:stream/a/")
    call(kvs, "create_stream", StreamName="b")
    expect_error(kvs, "create_stream", "ClientLimitExceededException", StreamName="c")
    time.sleep(0.6)  # one token back at 2/s
    call(kvs, "create_stream", StreamName="c")
    time.sleep(0.6)
    expect_error(kvs, "create_stream", "AccountStreamLimitExceededException", StreamName="d")
    assert call(kvs, "get_data_endpoint", StreamName="a",
                APIName="GET_CLIP")["DataEndpoint"] == "http://media.local"
    info = call(kvs, "describe_stream", StreamName="a")["StreamInfo"]
    assert info["KmsKeyId"] == "arn:aws:kms:eu-west-1:111122223333:alias/aws/kinesisvideo"
    status, config = emulator.admin("GET", "/_emulator/config")
    assert status == 200 and config["quotas"]["account_tps"]["CreateStream"] == 2
