"""api/webhooks.py in-process: secrets, signatures, the strict parser, event kinds, polled events, asset names."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from types import SimpleNamespace

import pytest

from airflow_provider_orangelogic.api import webhooks
from airflow_provider_orangelogic.api.webhooks import (
    WebhookConfig,
    WebhookRejected,
    asset_uri,
    check_delivery,
    event_kind,
    parse_event,
    parse_field_paths,
    parse_secrets,
    polled_event,
)
from airflow_provider_orangelogic.core import fields

SECRET = "s" * 40
OLD = "o" * 40


def body(**values: object) -> bytes:
    document = {"EventID": "e1", "EventType": "AssetCreated", "SystemIdentifier": "OL0000001", **values}
    return json.dumps({k: v for k, v in document.items() if v is not None}).encode()


def config(**kwargs: object) -> WebhookConfig:
    return WebhookConfig(secrets=(SECRET,), field_paths=webhooks.DEFAULT_FIELD_PATHS, **kwargs)  # type: ignore[arg-type]


def test_defaults_agree_with_the_connection_field():
    declared = fields.EXTRA_FIELDS_BY_NAME["webhook_payload_fields"].default
    assert parse_field_paths(declared) == webhooks.DEFAULT_FIELD_PATHS


def test_field_paths_override_some_and_refuse_nonsense():
    paths = parse_field_paths("identifier=Asset.Identifier, event_id=id")
    assert paths["identifier"] == "Asset.Identifier" and paths["event_id"] == "id"
    assert paths["time"] == "Timestamp"
    for bad in ("colour=Red", "identifier", "identifier=a..b", "identifier=a b"):
        with pytest.raises(ValueError, match="webhook_payload_fields"):
            parse_field_paths(bad)


def test_secrets_one_or_two_long_enough():
    assert parse_secrets(None) == ()
    assert parse_secrets(f" {SECRET}  {OLD} ") == (SECRET, OLD)
    with pytest.raises(ValueError, match="at least 32"):
        parse_secrets("short")
    with pytest.raises(ValueError, match="at most two"):
        parse_secrets(f"{SECRET} {OLD} {SECRET}")


def test_the_right_secret_or_the_previous_one_passes_while_rotating():
    rotating = WebhookConfig(secrets=(SECRET, OLD), field_paths=webhooks.DEFAULT_FIELD_PATHS)
    for presented in (SECRET, OLD):
        check_delivery(rotating, b"{}", presented, None)
    for presented in (None, "", SECRET[:-1], SECRET + "x", "é" * 40):
        with pytest.raises(WebhookRejected) as refused:
            check_delivery(rotating, b"{}", presented, None)
        assert refused.value.status == 401 and SECRET not in str(refused.value)


def test_no_secret_configured_refuses_everyone():
    with pytest.raises(WebhookRejected):
        check_delivery(WebhookConfig(secrets=(), field_paths={}), b"{}", "", None)


@pytest.mark.parametrize("encode", ["hex", "base64", "prefixed"])
def test_signature_checked_when_a_signing_secret_is_set(encode: str):
    signed = config(signing_secret="k" * 32)
    raw = body()
    digest = hmac.new(b"k" * 32, raw, hashlib.sha256).digest()
    header = {"hex": digest.hex(), "base64": base64.b64encode(digest).decode(), "prefixed": "sha256=" + digest.hex()}
    check_delivery(signed, raw, SECRET, header[encode])
    for wrong in (None, "", digest.hex()[:-2] + "00", "sha256=zz"):
        with pytest.raises(WebhookRejected, match="signature"):
            check_delivery(signed, raw, SECRET, wrong)
    with pytest.raises(WebhookRejected, match="signature"):
        check_delivery(signed, raw + b" ", SECRET, header[encode])  # the body changed after signing


def test_parse_reads_every_field_into_the_extra():
    event = parse_event(body(RecordID=12, Timestamp="2026-12-07T08:00:00Z"))
    assert event.kind == "created"
    assert event.extra() == {
        "event_id": "e1",
        "event_type": "AssetCreated",
        "identifier": "OL0000001",
        "record_id": "12",
        "time": "2026-12-07T08:00:00+00:00",
        "source": "webhook",
    }
    assert event.dedupe_key() == hashlib.sha256(b"e1").hexdigest()


def test_parse_follows_configured_dotted_paths():
    paths = parse_field_paths("event_id=meta.id,event_type=meta.type,identifier=asset.Identifier")
    raw = json.dumps({"meta": {"id": "x9", "type": "asset.deleted"}, "asset": {"Identifier": "OL1"}}).encode()
    event = parse_event(raw, paths)
    assert (event.event_id, event.kind, event.identifier, event.record_id) == ("x9", "deleted", "OL1", None)


@pytest.mark.parametrize(
    "raw",
    [
        b"",
        b"{",
        b"\xff\xfe",
        b"[]",
        b'"text"',
        body(EventID=None),
        body(EventID=""),
        body(EventID=" leading"),
        body(EventID="x" * 501),
        body(EventID="tab\there"),
        body(EventID=True),
        body(EventID=1.5),
        body(EventID={"nested": 1}),
        body(SystemIdentifier=None),
        body(EventType=None),
        body(EventType="Reticulated"),
        body(Timestamp="yesterday"),
        body(RecordID=["1"]),
    ],
)
def test_parse_refuses_what_it_cannot_read_exactly(raw: bytes):
    with pytest.raises(WebhookRejected) as refused:
        parse_event(raw)
    assert refused.value.status == 400


@pytest.mark.parametrize(
    ("spelled", "kind"),
    [
        ("created", "created"),
        ("AssetCreated", "created"),
        ("asset.added", "created"),
        ("NewUpload", "created"),
        ("Edit", "edited"),
        ("MetadataUpdated", "edited"),
        ("asset_saved", "edited"),
        ("Deleted", "deleted"),
        ("AssetRemoved", "deleted"),
    ],
)
def test_event_kinds(spelled: str, kind: str):
    assert event_kind(spelled) == kind


def test_asset_uri_per_connection_and_kind():
    assert asset_uri("orangelogic_default") == "orangelogic://orangelogic_default/created"
    assert asset_uri("ol.prod-1", "deleted") == "orangelogic://ol.prod-1/deleted"
    for conn_id, kind in (("x", "moved"), ("", "created"), ("a/b", "created"), ("a b", "created")):
        with pytest.raises(ValueError):
            asset_uri(conn_id, kind)


def test_polled_events_have_the_webhook_shape_and_a_deterministic_id():
    item = {
        "SystemIdentifier": "OL1",
        "RecordID": "1",
        "CreateDate": "2020-01-01T00:00:00Z",
        "EditDate": "2020-01-01T00:00:00Z",
    }
    created = polled_event(item)
    assert created is not None and created.kind == "created"
    assert created.event_id == "poll:OL1@2020-01-01T00:00:00Z" == polled_event(dict(item)).event_id
    assert set(created.extra()) == set(parse_event(body()).extra())
    edited = polled_event(item | {"EditDate": "2020-01-02T00:00:00Z"})
    assert edited is not None and edited.kind == "edited" and edited.event_id != created.event_id
    assert polled_event({"SystemIdentifier": "OL1"}) is None


def test_config_from_settings_and_its_repr_shows_no_secret():
    settings = SimpleNamespace(
        webhook_secret=f"{SECRET} {OLD}",
        webhook_payload_fields="",
        webhook_max_body_bytes=2048,
        webhook_signing_secret=" ",
        webhook_signature_header="X-Sig",
    )
    loaded = WebhookConfig.from_settings(settings)
    assert loaded.secrets == (SECRET, OLD) and loaded.signing_secret is None and loaded.max_body_bytes == 2048
    assert SECRET not in repr(loaded) and OLD not in repr(loaded)
