"""The cross-service contract: every producer's event is the consumer's, and a
wrong event fails where it is built."""

from __future__ import annotations

import ast
import uuid
from datetime import UTC, datetime
from pathlib import Path

import pytest
import structlog
from celery import Celery
from pydantic import ValidationError

from activity_service.events import parse_events
from catalog_service.service import like_event, view_event
from sandbox_common.contract import TASK_NAMES, ActivityEvent, record_events_kwargs
from sandbox_common.topology import PROCESS_PORTS
from user_service.models import User
from user_service.service import registered_event

SERVICES = Path(__file__).resolve().parents[2] / "services"
USER_ID = uuid.UUID("6c1d3f5e-8d2a-4f5b-9a7e-1b2c3d4e5f60")
PRODUCT_ID = uuid.UUID("0f0e0d0c-0b0a-4908-8706-050403020100")


def _consumed(event: ActivityEvent) -> ActivityEvent:
    """What the activity worker makes of the message the producer sends."""
    valid, rejected = parse_events(record_events_kwargs([event])["events"])
    assert rejected == 0
    return valid[0]


class TestProducers:
    def test_the_catalog_view_and_like(self) -> None:
        with structlog.contextvars.bound_contextvars(request_id="req-0001"):
            view = view_event(product_id=PRODUCT_ID, user_id=str(USER_ID))
            like = like_event(product_id=PRODUCT_ID, user_id=str(USER_ID))
        assert (view.type, like.type) == ("product.viewed", "product.liked")
        assert view.request_id == like.request_id == "req-0001"
        assert _consumed(view) == view
        assert _consumed(like) == like
        # One like per user and product.
        assert like.event_id == like_event(product_id=PRODUCT_ID, user_id=str(USER_ID)).event_id

    def test_user_registered(self) -> None:
        created = datetime(2026, 5, 1, 12, 0, 0, 123456, tzinfo=UTC)
        user = User(id=USER_ID, email="a@example.com", display_name="A", password_hash="x",
                    role="user", created_at=created)  # fmt: skip
        event = registered_event(user)
        assert event.type == "user.registered"
        assert event.user_id == event.object_id == str(USER_ID)
        assert event.occurred_at == created.replace(microsecond=123000)
        assert event.event_id == registered_event(user).event_id
        assert _consumed(event) == event


class TestTheModel:
    def test_a_wrong_event_fails_where_it_is_built(self) -> None:
        with pytest.raises(ValidationError):
            ActivityEvent.new(type="product.bought", user_id=USER_ID, object_id="p")  # type: ignore[arg-type]
        with pytest.raises(ValidationError):
            ActivityEvent.new(type="product.viewed", user_id="not-a-uuid", object_id="p")
        with pytest.raises(ValidationError):
            ActivityEvent.new(type="product.viewed", user_id=USER_ID, object_id="p",
                              metadata={"$set": 1})  # fmt: skip

    def test_the_message_is_json_and_round_trips(self) -> None:
        event = ActivityEvent.new(type="product.viewed", user_id=USER_ID, object_id="p",
                                  metadata={"n": 1, "s": "x", "b": True, "z": None})  # fmt: skip
        message = event.message()
        assert isinstance(message["occurred_at"], str)
        assert ActivityEvent.model_validate(message) == event
        assert event.occurred_at.tzinfo is not None

    def test_record_events_kwargs_name_the_source(self) -> None:
        event = ActivityEvent.new(type="product.viewed", user_id=USER_ID, object_id="p")
        assert record_events_kwargs([event], source="api")["source"] == "api"
        assert record_events_kwargs([])["source"] == "task"


def _task_names_spelled_out(path: Path) -> list[str]:
    """String constants shaped like a task name outside the contract module."""
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            parts = node.value.split(".")
            if len(parts) == 3 and parts[1] == "tasks" and all(p.isidentifier() for p in parts):
                found.append(node.value)
    return found


def test_task_names_are_spelled_only_in_the_contract() -> None:
    contract = SERVICES / "common" / "sandbox_common" / "contract.py"
    elsewhere = {
        str(path.relative_to(SERVICES)): names
        for path in SERVICES.rglob("*.py")
        if path != contract and (names := _task_names_spelled_out(path))
    }
    assert elsewhere == {}
    declared = set(TASK_NAMES)
    assert set(_task_names_spelled_out(contract)) == declared


def test_every_declared_task_is_registered_by_the_worker(worker_app: Celery) -> None:
    app = worker_app
    declared = set(TASK_NAMES)
    assert declared <= set(app.tasks)
    scheduled = {entry["task"] for entry in app.conf.beat_schedule.values()}
    assert scheduled <= declared


def test_the_image_exposes_the_ports_of_its_processes() -> None:
    """The Dockerfile cannot import the ports' definition; it must agree with it."""
    dockerfile = (SERVICES.parent / "docker" / "Dockerfile").read_text()
    exposed = {
        int(port)
        for line in dockerfile.splitlines()
        if line.startswith("EXPOSE ")
        for port in line.split()[1:]
    }
    assert exposed == set(PROCESS_PORTS.values())
