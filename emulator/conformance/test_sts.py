"""STS on the emulator's endpoint, driven by boto3, compared with moto where moto
implements the behaviour, and multi-account, multi-region KVS through it.

Compared with moto (identical after `normalise_sts` and `support.normalise`):
AssumeRole answers (AssumedRoleUser, the shape of Credentials, Expiration against the
requested duration), GetCallerIdentity with assumed credentials, the Account of base
credentials, the length check of RoleSessionName, streams created with assumed
credentials landing in the role's account, and the region of a stream's ARN following
the region the client signed for.

moto's departures, left out of the comparison with the reason next to them:
- GetCallerIdentity with base credentials: moto invents a user (`UserId`
  AKIAIOSFODNN7EXAMPLE, `Arn` arn:aws:sts::<account>:user/moto; an IAM user's ARN is
  `arn:aws:iam::…`); the emulator reports the account root (`UserId` = the account id,
  `Arn` arn:aws:iam::<account>:root). Only `Account` is compared.
- PackedPolicySize: moto always answers 6; AWS (and the emulator) only when the request
  carries a session policy or tags, and then as a percentage of the packed size.
- moto validates nothing but RoleSessionName's maximum length (with a typo in its
  message, so only the code and status are compared), accepts malformed role ARNs,
  ignores ExternalId and never expires a session: those checks run against the emulator
  only, below, against botocore's STS model.
"""

from __future__ import annotations

import datetime as dt
import re
import time

import pytest
from botocore.exceptions import ClientError

import support
from support import ACCOUNT, REGION

ROLE = "arn:aws:iam::111111111111:role/tenant-a"
TENANT = "111111111111"
OTHER_REGION = "eu-west-1"

# A full KMS ARN: moto echoes a key as given, the emulator (as AWS) reports aliases as ARNs.
KMS_KEY = f"arn:aws:kms:{REGION}:{ACCOUNT}:key/1234abcd-12ab-34cd-56ef-1234567890ab"

SESSION_KEY = re.compile(r"^ASIA[A-Z0-9]{16}$")
ROLE_ID = re.compile(r"^AROA[A-Z0-9]{17}:(.+)$")


def normalise_sts(value, duration: int = 3600):
    """Masks what differs between two correct STS implementations: the random key,
    secret and token (after checking their shape), the Expiration (after checking it is
    `duration` seconds away), and the random part of a RoleId."""
    if isinstance(value, dict):
        result = {}
        for key, item in value.items():
            if key == "ResponseMetadata":
                continue
            if key == "AccessKeyId":
                assert SESSION_KEY.match(item), item
                result[key] = "<session-key>"
            elif key in ("SecretAccessKey", "SessionToken"):
                assert isinstance(item, str) and len(item) >= 16, item
                result[key] = f"<{key}>"
            elif key == "Expiration":
                expected = dt.datetime.now(dt.timezone.utc) + dt.timedelta(seconds=duration)
                assert abs((item - expected).total_seconds()) < 30, (item, expected)
                result[key] = "<expiration>"
            elif key in ("AssumedRoleId", "UserId") and (m := ROLE_ID.match(item)):
                result[key] = f"<role-id>:{m.group(1)}"
            else:
                result[key] = normalise_sts(item, duration)
        return result
    return value


class StsTranscript:
    """Outcomes of STS calls (normalised answers or errors), for one implementation."""

    def __init__(self, url: str, check_model: bool = False):
        self.url = url
        self.check_model = check_model
        self.entries: list[tuple[str, object]] = []

    def call(self, method: str, credentials: dict | None = None, drop=frozenset(),
             duration: int = 3600, **params):
        sts = support.sts_client(self.url, credentials=credentials, parameter_validation=False)
        try:
            response = getattr(sts, method)(**params)
        except ClientError as exc:
            code, status, _ = support.error_of(exc)
            self.entries.append((method, {"error": code, "status": status}))
            return None
        if self.check_model:
            support.check_output(method, response, support.STS_MODEL)
        body = {k: v for k, v in response.items() if k not in drop}
        self.entries.append((method, normalise_sts(body, duration)))
        return response


def assume_and_identify(t: StsTranscript) -> None:
    assumed = t.call("assume_role", drop=frozenset({"PackedPolicySize"}), RoleArn=ROLE,
                     RoleSessionName="kvs-operator")
    t.call("get_caller_identity", credentials=support.session_credentials(assumed))
    t.call("get_caller_identity", drop=frozenset({"UserId", "Arn"}))


def durations_paths_and_external_ids(t: StsTranscript) -> None:
    t.call("assume_role", drop=frozenset({"PackedPolicySize"}), duration=900,
           RoleArn="arn:aws:iam::222222222222:role/teams/cams/recorder",
           RoleSessionName="rec@cluster.1", DurationSeconds=900)
    t.call("assume_role", drop=frozenset({"PackedPolicySize"}), duration=43200,
           RoleArn=ROLE, RoleSessionName="long", DurationSeconds=43200)
    t.call("assume_role", drop=frozenset({"PackedPolicySize"}), RoleArn=ROLE,
           RoleSessionName="with-id", ExternalId="cluster-1")


def session_name_too_long(t: StsTranscript) -> None:
    t.call("assume_role", RoleArn=ROLE, RoleSessionName="s" * 65)


STS_SCENARIOS = [assume_and_identify, durations_paths_and_external_ids, session_name_too_long]


@pytest.fixture
def long_sessions_emulator(start_emulator):
    """An emulator whose tenant role allows 12-hour sessions (IAM's maximum), which moto
    allows any role; the default MaxSessionDuration is one hour."""
    emulator = start_emulator("--create-delay-ms", "0", "--delete-delay-ms", "0",
                              "--no-quotas")
    status, _ = emulator.admin("PUT", "/_emulator/config",
                               {"sts": {"roles": {ROLE: {"max_session_seconds": 43200}}}})
    assert status == 200
    return emulator


@pytest.mark.parametrize("scenario", STS_SCENARIOS, ids=lambda s: s.__name__)
def test_sts_answers_match_moto(scenario, long_sessions_emulator, moto_kvs, moto_url):
    on_moto = StsTranscript(moto_url)
    on_emulator = StsTranscript(long_sessions_emulator.url, check_model=True)
    scenario(on_moto)
    scenario(on_emulator)
    assert len(on_emulator.entries) == len(on_moto.entries)
    for (method, from_moto), (_, from_emulator) in zip(on_moto.entries, on_emulator.entries):
        assert from_emulator == from_moto, method


def test_the_sts_comparison_is_not_vacuous(emulator):
    t = StsTranscript(emulator.url, check_model=True)
    assume_and_identify(t)
    assert t.entries == [
        ("assume_role", {
            "Credentials": {"AccessKeyId": "<session-key>",
                            "SecretAccessKey": "<SecretAccessKey>",
                            "SessionToken": "<SessionToken>", "Expiration": "<expiration>"},
            "AssumedRoleUser": {
                "AssumedRoleId": "<role-id>:kvs-operator",
                "Arn": f"arn:aws:sts::{TENANT}:assumed-role/tenant-a/kvs-operator"},
        }),
        ("get_caller_identity", {
            "UserId": "<role-id>:kvs-operator", "Account": TENANT,
            "Arn": f"arn:aws:sts::{TENANT}:assumed-role/tenant-a/kvs-operator"}),
        ("get_caller_identity", {"Account": ACCOUNT}),
    ]


def kvs_in_role_account(url: str, t: support.Transcript) -> None:
    """Streams made with assumed credentials are the role account's; base credentials
    (the default account) do not see them."""
    assumed = support.sts_client(url).assume_role(RoleArn=ROLE, RoleSessionName="op")
    session = support.client(url, credentials=support.session_credentials(assumed))
    base = support.client(url)
    as_role = support.Transcript(session, t.check_model)
    as_role.call("create_stream", StreamName="tenant-cam", DataRetentionInHours=1,
                 KmsKeyId=KMS_KEY)
    as_role.call("list_streams")
    t.entries += as_role.entries
    t.call("list_streams")
    t.call("describe_stream", StreamName="tenant-cam")


def kvs_in_two_regions(url: str, t: support.Transcript) -> None:
    """The ARN's region is the one the client signed for; a name is per region."""
    east = support.Transcript(support.client(url, region=OTHER_REGION), t.check_model)
    for transcript in (t, east):
        transcript.call("create_stream", StreamName="cam", DataRetentionInHours=2,
                        KmsKeyId=KMS_KEY)
    for transcript in (t, east):
        transcript.call("describe_stream", StreamName="cam")
        transcript.call("list_streams")
        transcript.call("get_data_endpoint", StreamName="cam", APIName="GET_MEDIA")
    t.entries += east.entries


def assumed_role_in_another_region(url: str, t: support.Transcript) -> None:
    assumed = support.sts_client(url, region=OTHER_REGION).assume_role(
        RoleArn=ROLE, RoleSessionName="op")
    session = support.client(url, region=OTHER_REGION,
                             credentials=support.session_credentials(assumed))
    as_role = support.Transcript(session, t.check_model)
    as_role.call("create_stream", StreamName="eu-cam", DataRetentionInHours=3,
                 KmsKeyId=KMS_KEY)
    as_role.call("describe_stream", StreamName="eu-cam")
    t.entries += as_role.entries


KVS_SCENARIOS = [kvs_in_role_account, kvs_in_two_regions, assumed_role_in_another_region]


@pytest.mark.parametrize("scenario", KVS_SCENARIOS, ids=lambda s: s.__name__)
def test_accounts_and_regions_match_moto(scenario, emulator, kvs, moto_kvs, moto_url):
    on_moto, on_emulator = support.Transcript(moto_kvs), support.Transcript(kvs, True)
    scenario(moto_url, on_moto)
    scenario(emulator.url, on_emulator)
    assert len(on_emulator.entries) == len(on_moto.entries)
    for (method, from_moto), (_, from_emulator) in zip(on_moto.entries, on_emulator.entries):
        assert from_emulator == from_moto, method
    arns = [e["StreamARN"] for m, e in on_emulator.entries if m == "create_stream"]
    assert arns, "the scenario creates streams"


def test_accounts_and_regions_are_in_the_arns(emulator, kvs):
    t = support.Transcript(kvs, True)
    kvs_in_two_regions(emulator.url, t)
    kvs_in_role_account(emulator.url, t)
    arns = [e["StreamARN"] for m, e in t.entries if m == "create_stream"]
    assert arns == [
        f"arn:aws:kinesisvideo:{REGION}:{ACCOUNT}:stream/cam/<millis>",
        f"arn:aws:kinesisvideo:{OTHER_REGION}:{ACCOUNT}:stream/cam/<millis>",
        f"arn:aws:kinesisvideo:{REGION}:{TENANT}:stream/tenant-cam/<millis>",
    ]
    status, scopes = emulator.admin("GET", "/_emulator/scopes")
    assert status == 200
    assert [(s["account"], s["region"], s["streams"]) for s in scopes["scopes"]] == [
        (TENANT, REGION, 1), (ACCOUNT, OTHER_REGION, 1), (ACCOUNT, REGION, 1)]


# --- the emulator only: validation, trust rules, expiry, permissions ----------------------


def expect_sts_error(sts, method: str, code: str, status: int, **params) -> str:
    """Calls an STS operation that must fail; checks botocore mapped a modelled code to
    its exception class; returns the message."""
    with pytest.raises(ClientError) as raised:
        getattr(sts, method)(**params)
    got_code, got_status, message = support.error_of(raised.value)
    assert (got_code, got_status) == (code, status), message
    modelled = {s.metadata["error"]["code"]: s.name
                for s in support.STS_MODEL.operation_model(
                    support.operation_name(method)).error_shapes}
    if code in modelled:
        assert type(raised.value).__name__ == modelled[code]
    return message


def test_assume_role_validation_follows_the_model(emulator):
    loose = support.sts_client(emulator.url, parameter_validation=False)
    cases = [
        ({"RoleArn": "arn:aws:iam", "RoleSessionName": "op"}, "roleArn"),
        ({"RoleArn": ROLE, "RoleSessionName": "x"}, "roleSessionName"),
        ({"RoleArn": ROLE, "RoleSessionName": "two words"}, "roleSessionName"),
        ({"RoleArn": ROLE, "RoleSessionName": "op", "DurationSeconds": 899},
         "durationSeconds"),
        ({"RoleArn": ROLE, "RoleSessionName": "op", "DurationSeconds": 43201},
         "durationSeconds"),
        ({"RoleArn": ROLE, "RoleSessionName": "op", "ExternalId": "x"}, "externalId"),
        ({"RoleArn": ROLE, "RoleSessionName": "op", "ExternalId": "semi;colon"},
         "externalId"),
        ({"RoleArn": ROLE, "RoleSessionName": "op", "SourceIdentity": "a b"},
         "sourceIdentity"),
        ({"RoleArn": ROLE, "RoleSessionName": "op",
          "Tags": [{"Key": f"k{i}", "Value": "v"} for i in range(51)]}, "tags"),
    ]
    for params, field in cases:
        message = expect_sts_error(loose, "assume_role", "ValidationError", 400, **params)
        assert f"'{field}'" in message, (params, message)
    message = expect_sts_error(loose, "assume_role", "ValidationError", 400,
                               RoleArn="arn:aws:iam::111111111111:user/someone",
                               RoleSessionName="op")
    assert message == "Request ARN is invalid"
    expect_sts_error(loose, "assume_role", "ValidationError", 400, RoleArn=ROLE,
                     RoleSessionName="op", DurationSeconds=7200)
    expect_sts_error(loose, "assume_role", "MalformedPolicyDocument", 400, RoleArn=ROLE,
                     RoleSessionName="op", Policy="{not json")
    with_policy = support.sts_client(emulator.url).assume_role(
        RoleArn=ROLE, RoleSessionName="op",
        Policy='{"Version":"2012-10-17","Statement":[]}', SourceIdentity="alice")
    support.check_output("assume_role", with_policy, support.STS_MODEL)
    assert 0 < with_policy["PackedPolicySize"] <= 100
    assert with_policy["SourceIdentity"] == "alice"


def test_trust_rules_from_the_admin_api(emulator):
    sts = support.sts_client(emulator.url)
    status, _ = emulator.admin("PUT", "/_emulator/config", {"sts": {
        "require_listed_roles": True,
        "roles": {ROLE: {"external_id": "cluster-1", "trusted_accounts": [ACCOUNT]}},
    }})
    assert status == 200
    denied = (f"User: arn:aws:iam::{ACCOUNT}:root is not authorized to perform: "
              f"sts:AssumeRole on resource: {ROLE}")
    assert expect_sts_error(sts, "assume_role", "AccessDenied", 403, RoleArn=ROLE,
                            RoleSessionName="op") == denied
    expect_sts_error(sts, "assume_role", "AccessDenied", 403, RoleArn=ROLE,
                     RoleSessionName="op", ExternalId="cluster-2")
    assumed = sts.assume_role(RoleArn=ROLE, RoleSessionName="op", ExternalId="cluster-1")
    support.check_output("assume_role", assumed, support.STS_MODEL)
    expect_sts_error(sts, "assume_role", "AccessDenied", 403,
                     RoleArn="arn:aws:iam::111111111111:role/unlisted", RoleSessionName="op")
    # The trusted accounts are the trust policy's principals: the role's own session
    # (account 111111111111) may not chain into it.
    chained = support.sts_client(emulator.url,
                                 credentials=support.session_credentials(assumed))
    expect_sts_error(chained, "assume_role", "AccessDenied", 403, RoleArn=ROLE,
                     RoleSessionName="again", ExternalId="cluster-1")
    emulator.admin("PUT", "/_emulator/config",
                   {"sts": {"roles": {ROLE: {"deny": "suspended by the platform team"}}}})
    assert expect_sts_error(sts, "assume_role", "AccessDenied", 403, RoleArn=ROLE,
                            RoleSessionName="op", ExternalId="cluster-1") == (
        "suspended by the platform team")
    calls = emulator.admin("GET", "/_emulator/calls")[1]
    assert calls["AssumeRole"] == {"total": 5, "succeeded": 1, "errors": {"AccessDenied": 4}}


def test_sessions_expire(emulator):
    emulator.admin("PUT", "/_emulator/config", {"sts": {"session_lifetime_ms": 500}})
    assumed = support.sts_client(emulator.url).assume_role(RoleArn=ROLE, RoleSessionName="op")
    expiration = assumed["Credentials"]["Expiration"]
    assert expiration < dt.datetime.now(dt.timezone.utc) + dt.timedelta(seconds=5)
    creds = support.session_credentials(assumed)
    kvs = support.client(emulator.url, credentials=creds)
    support.call(kvs, "list_streams")
    time.sleep(0.7)
    with pytest.raises(ClientError) as raised:
        kvs.list_streams()
    assert support.error_of(raised.value) == (
        "ExpiredTokenException", 403, "The security token included in the request is expired")
    expect_sts_error(support.sts_client(emulator.url, credentials=creds),
                     "get_caller_identity", "ExpiredToken", 403)
    unknown = {"aws_access_key_id": "ASIAEXAMPLEEXAMPLE01", "aws_secret_access_key": "s",
               "aws_session_token": "t"}
    with pytest.raises(ClientError) as raised:
        support.client(emulator.url, credentials=unknown).list_streams()
    assert support.error_of(raised.value)[:2] == ("UnrecognizedClientException", 403)
    expect_sts_error(support.sts_client(emulator.url, credentials=unknown),
                     "get_caller_identity", "InvalidClientTokenId", 403)


def test_name_prefixes_act_like_an_iam_policy(emulator):
    emulator.admin("PUT", "/_emulator/config",
                   {"sts": {"roles": {ROLE: {"name_prefixes": ["team-a-"]}}}})
    assumed = support.sts_client(emulator.url).assume_role(RoleArn=ROLE, RoleSessionName="op")
    kvs = support.client(emulator.url, credentials=support.session_credentials(assumed))
    support.call(kvs, "create_stream", StreamName="team-a-cam")
    message = support.expect_error(kvs, "create_stream", "AccessDeniedException", 401,
                                   StreamName="team-b-cam")
    assert "kinesisvideo:CreateStream" in message and "stream/team-b-cam/*" in message
    support.expect_error(kvs, "describe_stream", "AccessDeniedException", 401,
                         StreamName="team-b-cam")
    assert [s["StreamName"] for s in support.call(kvs, "list_streams")["StreamInfoList"]] == [
        "team-a-cam"]


def test_the_call_log_names_keys_accounts_and_regions(emulator, kvs):
    support.call(kvs, "create_stream", StreamName="a")
    east = support.client(emulator.url, region=OTHER_REGION)
    support.call(east, "list_streams")
    support.sts_client(emulator.url).get_caller_identity()
    status, log = emulator.admin("GET", "/_emulator/log")
    assert status == 200
    assert [(r["operation"], r["account"], r["region"], r["access_key_id"], r["stream"],
             r["error"]) for r in log["records"]] == [
        ("CreateStream", ACCOUNT, REGION, "testing", "a", None),
        ("ListStreams", ACCOUNT, OTHER_REGION, "testing", None, None),
        ("GetCallerIdentity", ACCOUNT, REGION, "testing", None, None),
    ]
    seqs = [r["seq"] for r in log["records"]]
    assert seqs == sorted(seqs) and len(set(seqs)) == 3
    assert emulator.admin("DELETE", "/_emulator/calls")[0] == 200
    assert emulator.admin("GET", "/_emulator/log")[1]["records"] == []
