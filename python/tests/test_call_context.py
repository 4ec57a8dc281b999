"""The call context's scopes: a call without meta takes a path that makes its objects without
their ``__init__`` (call_context.enter), which must leave them as ``__init__`` would."""

import os

import pytest

from piton import call_context
from piton.call_context import CallContext, Scope


def _slots(obj, cls):
    return {name: getattr(obj, name) for name in cls.__slots__}


def test_a_scope_without_meta_is_the_one_init_makes():
    scope = call_context.enter(None)
    try:
        made = _slots(scope.context, CallContext)
        assert made.pop("call_id").startswith(f"{os.getpid()}-")
        expected = _slots(CallContext("id", None), CallContext)
        expected.pop("call_id")
        assert made == expected
        assert scope._otel_token is None
        assert call_context.context() is scope.context
    finally:
        scope.leave()
    with pytest.raises(LookupError):
        call_context.context()


def test_every_slot_is_set_without_meta():
    scope = call_context.enter(None)
    try:
        for cls, obj in ((CallContext, scope.context), (Scope, scope)):
            for name in cls.__slots__:
                assert hasattr(obj, name), f"{cls.__name__}.{name} is not set"
    finally:
        scope.leave()
