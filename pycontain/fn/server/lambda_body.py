"""A Lambda API request's body: a strict JSON object (no NaN, no repeated
keys, no nesting deep enough to exhaust the stack), as fn.server.lambda_api and
fn.server.lambda_events_api read it."""
import json

from pycontain.fn.server.gateway import ApiError


def _strict(pairs):
    keys = [k for k, _ in pairs]
    if len(set(keys)) != len(keys):
        raise ValueError("a key is repeated")
    return dict(pairs)


def _constant(name):
    raise ValueError(f"{name} is not JSON")


def parse_body(body: bytes) -> dict:
    """A request's JSON object ({} for none)."""
    if not body:
        return {}
    try:
        obj = json.loads(body, object_pairs_hook=_strict, parse_constant=_constant)
    except (ValueError, RecursionError) as exc:  # RecursionError: nested too deep
        raise ApiError("InvalidRequestContentException",
                       f"Could not parse request body into json: {str(exc)[:200]}") from None
    if not isinstance(obj, dict):
        raise ApiError("InvalidRequestContentException", "the request body must be a JSON object")
    return obj
