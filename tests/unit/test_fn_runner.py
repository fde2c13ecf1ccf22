"""The in-jail runner and the fn exec flags, without a jail."""
import json
import sys

import pytest

from pycontain.errors import PycontainError
from pycontain.fn.injail import runner
from pycontain.fn.environment import parse_env
from pycontain.fn.oneshot.exec_command import fast_parse, parse_memory, parse_timeout


@pytest.mark.parametrize("value", [{"a": [1, 2.5, None, True, "é"]}, [], "x", None, 3, -1.5])
def test_json_matches_the_json_module(value):
    text = json.dumps(value)
    assert runner.dumps(value) == text
    assert runner.loads(f"  {text}\n".encode()) == value


@pytest.mark.parametrize("text", ["{bad", '{"a": 1} x', ""])
def test_invalid_json_raises_value_error(text):
    with pytest.raises(ValueError):
        runner.loads(text.encode())


def test_load_handler_faults(tmp_path, monkeypatch):
    (tmp_path / "good_mod.py").write_text("def fn(e, c):\n    return e\n")
    (tmp_path / "syntax_mod.py").write_text("def fn(:\n")
    monkeypatch.setattr(sys, "path", list(sys.path))
    assert runner.load_handler("good_mod.fn", str(tmp_path))({"a": 1}, None) == {"a": 1}
    for name, error_type in (("nodot", "Runtime.MalformedHandlerName"),
                             ("good_mod.missing", "Runtime.HandlerNotFound"),
                             ("syntax_mod.fn", "Runtime.UserCodeSyntaxError"),
                             ("absent_mod.fn", "Runtime.ImportModuleError")):
        with pytest.raises(runner.Fault) as caught:
            runner.load_handler(name, str(tmp_path))
        assert caught.value.error_type == error_type


def test_invoke_statuses():
    ctx = runner.LambdaContext("rid", 0, {})
    assert runner.invoke(lambda e, c: e["n"] + 1, b'{"n": 1}', ctx) == (runner.OK, "2")
    status, text = runner.invoke(lambda e, c: object(), b"{}", ctx)
    assert status == runner.FUNCTION_ERROR
    assert json.loads(text)["errorType"] == "Runtime.MarshalError"
    for bad in (b"[", b"[" * 100_000 + b"]" * 100_000):  # nested past Python's recursion limit
        status, text = runner.invoke(lambda e, c: 1, bad, ctx)
        assert status == runner.BAD_EVENT
        assert json.loads(text)["errorType"] == "Runtime.UnmarshalError"
    assert ctx.get_remaining_time_in_millis() == 0


def test_flags():
    assert fast_parse(["h.py", "--event", "{}", "--env=A=1", "--env", "B=2", "--network"]) == (
        {"event": "{}", "env": ["A=1", "B=2"], "network": True}, "h.py")
    assert fast_parse(["--help", "h.py"]) is None
    assert fast_parse(["a.py", "b.py"]) is None
    assert fast_parse(["h.py", "--timeout"]) is None
    assert parse_memory("1g") == 1024 and parse_memory("256") == 256
    assert parse_timeout("2.5") == 2.5
    for bad in (lambda: parse_memory("64m"), lambda: parse_memory("lots"),
                lambda: parse_timeout("901"), lambda: parse_env(["AWS_REGION=x"]),
                lambda: parse_env(["1A=x"])):
        with pytest.raises(PycontainError):
            bad()
