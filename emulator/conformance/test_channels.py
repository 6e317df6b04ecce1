"""boto3 against kvs-emulator for signaling channels, resource tags, media storage and a
stream's image generation and notification configurations. Every successful response
is checked against botocore's model and every error against the operation's modelled
errors (support.call / support.expect_error).

moto (5.2.5) implements none of these operations (its kinesisvideo backend has
create/describe/list/delete stream and get_data_endpoint only), so nothing here is
compared with moto; test_moto_lacks_these_operations keeps that statement true.
"""

from __future__ import annotations

import time

import pytest
from botocore.exceptions import ClientError

import support
from support import ACCOUNT, REGION, call, expect_error

BUCKET = "s3://doorbell-thumbnails/front"
TOPIC = f"arn:aws:sns:{REGION}:{ACCOUNT}:doorbell-events"


def images(**overrides) -> dict:
    config = {
        "Status": "ENABLED",
        "ImageSelectorType": "SERVER_TIMESTAMP",
        "DestinationConfig": {"Uri": BUCKET, "DestinationRegion": REGION},
        "SamplingInterval": 3000,
        "Format": "JPEG",
        "FormatConfig": {"JPEGQuality": "80"},
        "WidthPixels": 320,
        "HeightPixels": 240,
    }
    config.update(overrides)
    return config


def test_channel_lifecycle_with_delays(start_emulator):
    emulator = start_emulator("--no-quotas", "--create-delay-ms", "500",
                              "--update-delay-ms", "500", "--delete-delay-ms", "500")
    kvs = support.client(emulator.url)
    arn = call(kvs, "create_signaling_channel", ChannelName="front-door",
               SingleMasterConfiguration={"MessageTtlSeconds": 30},
               Tags=[{"Key": "team", "Value": "security"}])["ChannelARN"]
    assert arn.startswith(f"arn:aws:kinesisvideo:{REGION}:{ACCOUNT}:channel/front-door/")
    info = call(kvs, "describe_signaling_channel", ChannelARN=arn)["ChannelInfo"]
    assert info["ChannelStatus"] == "CREATING" and info["ChannelType"] == "SINGLE_MASTER"
    assert info["SingleMasterConfiguration"] == {"MessageTtlSeconds": 30}
    expect_error(kvs, "update_signaling_channel", "ResourceInUseException", ChannelARN=arn,
                 CurrentVersion=info["Version"])
    time.sleep(0.6)
    call(kvs, "update_signaling_channel", ChannelARN=arn, CurrentVersion=info["Version"],
         SingleMasterConfiguration={"MessageTtlSeconds": 120})
    updating = call(kvs, "describe_signaling_channel", ChannelName="front-door")["ChannelInfo"]
    assert updating["ChannelStatus"] == "UPDATING" and updating["Version"] != info["Version"]
    time.sleep(0.6)
    expect_error(kvs, "delete_signaling_channel", "VersionMismatchException", ChannelARN=arn,
                 CurrentVersion=info["Version"])
    call(kvs, "delete_signaling_channel", ChannelARN=arn)
    assert call(kvs, "describe_signaling_channel",
                ChannelARN=arn)["ChannelInfo"]["ChannelStatus"] == "DELETING"
    time.sleep(0.6)
    expect_error(kvs, "describe_signaling_channel", "ResourceNotFoundException", 404,
                 ChannelARN=arn)
    assert emulator.admin("GET", "/_emulator/channels")[1] == {"channels": []}


def test_channel_validation_names_the_field(kvs, loose_kvs):
    cases = [
        ({"ChannelName": "bad name"}, "channelName"),
        ({"ChannelName": ""}, "channelName"),
        ({"ChannelName": "ok", "ChannelType": "STAR"}, "channelType"),
        ({"ChannelName": "ok", "SingleMasterConfiguration": {"MessageTtlSeconds": 4}},
         "singleMasterConfiguration.messageTtlSeconds"),
        ({"ChannelName": "ok", "SingleMasterConfiguration": {"MessageTtlSeconds": 121}},
         "singleMasterConfiguration.messageTtlSeconds"),
        ({"ChannelName": "ok", "Tags": [{"Key": "", "Value": "v"}]}, "tags.1.member.key"),
    ]
    for params, field in cases:
        message = expect_error(loose_kvs, "create_signaling_channel",
                               "InvalidArgumentException", 400, **params)
        assert f"'{field}'" in message, (params, message)
    expect_error(kvs, "create_signaling_channel", "InvalidArgumentException",
                 ChannelName="mesh", ChannelType="FULL_MESH")
    expect_error(kvs, "create_signaling_channel", "TagsPerResourceExceededLimitException",
                 ChannelName="t", Tags=[{"Key": f"k{i}", "Value": "v"} for i in range(51)])
    expect_error(loose_kvs, "get_signaling_channel_endpoint", "InvalidArgumentException",
                 ChannelARN=f"arn:aws:kinesisvideo:{REGION}:{ACCOUNT}:channel/x/1",
                 SingleMasterChannelEndpointConfiguration={"Protocols": ["FTP"]})
    assert call(kvs, "list_signaling_channels")["ChannelInfoList"] == []


def test_listing_with_the_paginator(kvs):
    for i in range(23):
        call(kvs, "create_signaling_channel", ChannelName=f"door-{i:02}")
    call(kvs, "create_signaling_channel", ChannelName="garage")
    pages = list(kvs.get_paginator("list_signaling_channels").paginate(
        ChannelNameCondition={"ComparisonOperator": "BEGINS_WITH", "ComparisonValue": "door-"},
        PaginationConfig={"PageSize": 10}))
    assert [len(p["ChannelInfoList"]) for p in pages] == [10, 10, 3]
    for page in pages:
        support.check_output("list_signaling_channels", page)
    names = [c["ChannelName"] for p in pages for c in p["ChannelInfoList"]]
    assert names == [f"door-{i:02}" for i in range(23)]


def test_endpoints(kvs):
    arn = call(kvs, "create_signaling_channel", ChannelName="bell")["ChannelARN"]
    master = call(kvs, "get_signaling_channel_endpoint", ChannelARN=arn,
                  SingleMasterChannelEndpointConfiguration={"Protocols": ["WSS", "HTTPS"],
                                                            "Role": "MASTER"})
    endpoints = {e["Protocol"]: e["ResourceEndpoint"] for e in master["ResourceEndpointList"]}
    assert endpoints["WSS"].startswith("wss://m-")
    assert endpoints["HTTPS"].startswith("https://r-")
    assert all(url.endswith(f".kinesisvideo.{REGION}.amazonaws.com")
               for url in endpoints.values())
    viewer = call(kvs, "get_signaling_channel_endpoint", ChannelARN=arn,
                  SingleMasterChannelEndpointConfiguration={"Protocols": ["WSS"],
                                                            "Role": "VIEWER"})
    assert viewer["ResourceEndpointList"][0]["ResourceEndpoint"].startswith("wss://v-")
    expect_error(kvs, "get_signaling_channel_endpoint", "InvalidArgumentException",
                 ChannelARN=arn,
                 SingleMasterChannelEndpointConfiguration={"Protocols": ["WEBRTC"]})


def test_resource_tags_on_channels_and_streams(start_emulator):
    emulator = start_emulator("--no-quotas", "--create-delay-ms", "0", "--tags-page-size", "2")
    kvs = support.client(emulator.url)
    channel = call(kvs, "create_signaling_channel", ChannelName="c")["ChannelARN"]
    stream = call(kvs, "create_stream", StreamName="s", Tags={"from": "create"})["StreamARN"]
    for arn in (channel, stream):
        call(kvs, "tag_resource", ResourceARN=arn,
             Tags=[{"Key": f"k{i}", "Value": f"v{i}"} for i in range(3)])
        call(kvs, "untag_resource", ResourceARN=arn, TagKeyList=["k0"])
    def all_tags(arn: str) -> dict:
        tags, token = {}, None
        while True:
            page = call(kvs, "list_tags_for_resource", ResourceARN=arn,
                        **({"NextToken": token} if token else {}))
            tags.update(page["Tags"])
            token = page.get("NextToken")
            if not token:
                return tags
    assert all_tags(channel) == {"k1": "v1", "k2": "v2"}
    assert all_tags(stream) == {"from": "create", "k1": "v1", "k2": "v2"}
    assert call(kvs, "list_tags_for_stream", StreamARN=stream)["Tags"] == {
        "from": "create", "k1": "v1"}, "the stream's tags, paged by 2"
    expect_error(kvs, "tag_resource", "TagsPerResourceExceededLimitException",
                 ResourceARN=channel, Tags=[{"Key": f"x{i}", "Value": ""} for i in range(49)])
    expect_error(kvs, "list_tags_for_resource", "ResourceNotFoundException",
                 ResourceARN=f"arn:aws:kinesisvideo:{REGION}:{ACCOUNT}:channel/gone/1")


def test_media_storage(kvs):
    channel = call(kvs, "create_signaling_channel", ChannelName="bell")["ChannelARN"]
    keeps = call(kvs, "create_stream", StreamName="bell-video",
                 DataRetentionInHours=24)["StreamARN"]
    live = call(kvs, "create_stream", StreamName="live")["StreamARN"]
    assert call(kvs, "describe_media_storage_configuration", ChannelARN=channel)[
        "MediaStorageConfiguration"] == {"Status": "DISABLED"}
    message = expect_error(kvs, "update_media_storage_configuration",
                           "NoDataRetentionException", 400, ChannelARN=channel,
                           MediaStorageConfiguration={"Status": "ENABLED", "StreamARN": live})
    assert message == "The Stream data retention in hours is equal to zero."
    call(kvs, "update_media_storage_configuration", ChannelARN=channel,
         MediaStorageConfiguration={"Status": "ENABLED", "StreamARN": keeps})
    assert call(kvs, "describe_media_storage_configuration", ChannelName="bell")[
        "MediaStorageConfiguration"] == {"Status": "ENABLED", "StreamARN": keeps}
    webrtc = call(kvs, "get_signaling_channel_endpoint", ChannelARN=channel,
                  SingleMasterChannelEndpointConfiguration={"Protocols": ["WEBRTC"]})
    assert webrtc["ResourceEndpointList"][0]["Protocol"] == "WEBRTC"
    other = call(kvs, "create_signaling_channel", ChannelName="side")["ChannelARN"]
    expect_error(kvs, "update_media_storage_configuration", "ResourceInUseException",
                 ChannelARN=other,
                 MediaStorageConfiguration={"Status": "ENABLED", "StreamARN": keeps})


def test_image_generation_and_notifications(emulator, kvs, loose_kvs):
    call(kvs, "create_stream", StreamName="door", DataRetentionInHours=24)
    call(kvs, "create_stream", StreamName="live")
    assert "ImageGenerationConfiguration" not in call(
        kvs, "describe_image_generation_configuration", StreamName="door")
    call(kvs, "update_image_generation_configuration", StreamName="door",
         ImageGenerationConfiguration=images())
    read = call(kvs, "describe_image_generation_configuration", StreamName="door")
    assert read["ImageGenerationConfiguration"] == images()
    for overrides, field in [({"SamplingInterval": 199}, "samplingInterval"),
                             ({"WidthPixels": 3841}, "widthPixels"),
                             ({"HeightPixels": 0}, "heightPixels"),
                             ({"Format": "GIF"}, "format"),
                             ({"DestinationConfig": {"Uri": "nope",
                                                     "DestinationRegion": REGION}},
                              "destinationConfig.uri")]:
        message = expect_error(loose_kvs, "update_image_generation_configuration",
                               "InvalidArgumentException", 400, StreamName="door",
                               ImageGenerationConfiguration=images(**overrides))
        assert f"'imageGenerationConfiguration.{field}'" in message, message
    expect_error(kvs, "update_image_generation_configuration", "NoDataRetentionException",
                 StreamName="live", ImageGenerationConfiguration=images())
    call(kvs, "update_notification_configuration", StreamName="door",
         NotificationConfiguration={"Status": "ENABLED", "DestinationConfig": {"Uri": TOPIC}})
    assert call(kvs, "describe_notification_configuration", StreamName="door")[
        "NotificationConfiguration"] == {"Status": "ENABLED", "DestinationConfig": {"Uri": TOPIC}}
    # A destination the settings call unknown is refused with the AWS error.
    status, _ = emulator.admin("PUT", "/_emulator/config", {"unknown_destinations": [TOPIC]})
    assert status == 200
    message = expect_error(kvs, "update_notification_configuration",
                           "InvalidArgumentException", StreamName="door",
                           NotificationConfiguration={"Status": "ENABLED",
                                                      "DestinationConfig": {"Uri": TOPIC}})
    assert TOPIC in message
    call(kvs, "update_notification_configuration", StreamName="door")
    assert "NotificationConfiguration" not in call(
        kvs, "describe_notification_configuration", StreamName="door")
    streams = emulator.admin("GET", "/_emulator/streams")[1]["streams"]
    assert streams[0]["ImageGenerationConfiguration"]["SamplingInterval"] == 3000


CHANNEL_ARN = f"arn:aws:kinesisvideo:{REGION}:{ACCOUNT}:channel/c/1"
STREAM_ARN = f"arn:aws:kinesisvideo:{REGION}:{ACCOUNT}:stream/s/1"
NOT_IN_MOTO = [
    ("create_signaling_channel", {"ChannelName": "c"}),
    ("describe_signaling_channel", {"ChannelName": "c"}),
    ("list_signaling_channels", {}),
    ("update_signaling_channel", {"ChannelARN": CHANNEL_ARN, "CurrentVersion": "v"}),
    ("delete_signaling_channel", {"ChannelARN": CHANNEL_ARN}),
    ("get_signaling_channel_endpoint", {"ChannelARN": CHANNEL_ARN}),
    ("tag_resource", {"ResourceARN": STREAM_ARN, "Tags": [{"Key": "a", "Value": "b"}]}),
    ("untag_resource", {"ResourceARN": STREAM_ARN, "TagKeyList": ["a"]}),
    ("list_tags_for_resource", {"ResourceARN": STREAM_ARN}),
    ("describe_image_generation_configuration", {"StreamName": "s"}),
    ("update_image_generation_configuration", {"StreamName": "s"}),
    ("describe_notification_configuration", {"StreamName": "s"}),
    ("update_notification_configuration", {"StreamName": "s"}),
    ("describe_media_storage_configuration", {"ChannelARN": CHANNEL_ARN}),
    ("update_media_storage_configuration",
     {"ChannelARN": CHANNEL_ARN, "MediaStorageConfiguration": {"Status": "DISABLED"}}),
]


@pytest.mark.parametrize("method, params", NOT_IN_MOTO, ids=[m for m, _ in NOT_IN_MOTO])
def test_moto_lacks_these_operations(moto_kvs, method, params):
    """The reason nothing in this file is compared with moto: its server has no route
    for these operations and answers a bare 404 page."""
    with pytest.raises(ClientError) as raised:
        getattr(moto_kvs, method)(**params)
    assert support.error_of(raised.value)[:2] == ("404", 404)
