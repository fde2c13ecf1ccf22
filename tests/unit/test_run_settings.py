"""The run settings of issue 17, item 3, without a kernel: Go durations, the
healthcheck merge and status rules, labels, stop plans, namespace modes."""
import pytest

from pycontain.durations import go_duration
from pycontain.engine import health, labels, nsjoin, stopping
from pycontain.engine.spec import RunOptions, build_spec
from pycontain.errors import PycontainError

S = health.SECOND


@pytest.mark.parametrize("text,ns", [("30s", 30 * S), ("1m30s", 90 * S), ("500ms", S // 2),
                                     ("1.5h", 5400 * S), ("0", 0), ("10us", 10_000)])
def test_go_durations(text, ns):
    assert go_duration(text) == ns


@pytest.mark.parametrize("text", ["", "5", "-1s", "1x", "1s ", "s", "1" * 100 + "s"])
def test_bad_go_durations(text):
    with pytest.raises(ValueError):
        go_duration(text)


IMAGE = {"Healthcheck": {"Test": ["CMD-SHELL", "curl -f localhost"], "Interval": 5 * S,
                         "Retries": 4}}


def test_flags_go_over_the_images_check_field_by_field():
    check = health.settings(IMAGE, RunOptions(health_interval="1s", health_timeout="2s"))
    assert check == {"Test": ["CMD-SHELL", "curl -f localhost"], "Interval": S,
                     "Timeout": 2 * S, "Retries": 4}
    check = health.settings(IMAGE, RunOptions(health_cmd="true", health_retries="1"))
    assert check["Test"] == ["CMD-SHELL", "true"] and check["Retries"] == 1
    assert health.settings({}, RunOptions()) is None
    assert health.settings(IMAGE, RunOptions(no_healthcheck=True)) == {"Test": ["NONE"]}
    assert not health.active({"Test": ["NONE"]}) and health.active(IMAGE["Healthcheck"])
    assert health.argv({"Test": ["CMD", "a", "b"]}) == ["a", "b"]
    assert health.argv(IMAGE["Healthcheck"]) == ["/bin/sh", "-c", "curl -f localhost"]


@pytest.mark.parametrize("image,flags", [
    ({}, {"no_healthcheck": True, "health_cmd": "true"}),
    ({}, {"health_cmd": "true", "health_interval": "10ns"}),  # under 1 ms
    ({}, {"health_cmd": "true", "health_retries": "-1"}),
    ({}, {"health_cmd": "true", "health_timeout": "soon"}),
    ({"Healthcheck": {"Test": "CMD true"}}, {}),
    ({"Healthcheck": {"Test": ["CMD"]}}, {}),
    ({"Healthcheck": {"Test": ["RUN", "x"]}}, {}),
    ({"Healthcheck": {"Test": ["CMD", "x"], "Interval": "5s"}}, {}),
    ({"Healthcheck": {"Test": ["CMD", "x"], "Retries": -2}}, {}),
    ({"Healthcheck": ["CMD", "x"]}, {}),
])
def test_bad_healthchecks_are_refused(image, flags):
    with pytest.raises(PycontainError):
        health.settings(image, RunOptions(**flags))


def _results(check, codes, started=100.0, step=1.0):
    state = {"Status": health.STARTING}
    for i, code in enumerate(codes):
        result = {"Start": started + (i + 1) * step, "End": 0, "ExitCode": code, "Output": ""}
        state = health.advance(state, result, check, started)
    return state


def test_status_rules_are_dockers():
    check = {"Test": ["CMD", "x"], "Retries": 2}
    assert _results(check, [1])["Status"] == health.STARTING
    failed = _results(check, [1, 1])
    assert (failed["Status"], failed["FailingStreak"]) == (health.UNHEALTHY, 2)
    assert _results(check, [1, 1, 0])["Status"] == health.HEALTHY
    assert _results(check, [1, 1, 0])["FailingStreak"] == 0
    assert _results(check, [0, 1])["Status"] == health.HEALTHY  # one failure: not yet
    assert len(_results(check, [1] * 9)["Log"]) == health.MAX_LOG
    assert _results({"Test": ["CMD", "x"]}, [1, 1])["Status"] == health.STARTING  # 3 retries


def test_failures_in_the_start_period_do_not_count_until_healthy():
    check = {"Test": ["CMD", "x"], "Retries": 1, "StartPeriod": 10 * S}
    early = _results(check, [1, 1, 1])  # at 1, 2, 3 s
    assert (early["Status"], early["FailingStreak"]) == (health.STARTING, 0)
    assert _results(check, [1] * 11)["Status"] == health.UNHEALTHY  # the 11th at 11 s
    assert _results(check, [0, 1])["Status"] == health.UNHEALTHY  # healthy: the period is over


def test_labels_merge_over_the_images(tmp_path):
    path = tmp_path / "labels"
    path.write_text("# comment\n\nfrom=file\nshared=file\n")
    merged = labels.merged({"Labels": {"image": "1", "shared": "image"}}, [str(path)],
                           ["shared=cli", "empty"])
    assert merged == {"image": "1", "shared": "cli", "from": "file", "empty": ""}
    for bad in ("=x", " k=v"):
        with pytest.raises(PycontainError):
            labels.merged({}, [], [bad])
    with pytest.raises(PycontainError):
        labels.merged({}, [str(tmp_path / "missing")], [])


def test_stop_plans():
    assert stopping.plan({}) == (15, 10)
    meta = stopping.settings({"StopSignal": "SIGUSR2"}, None, "3")
    assert meta == {"stop_signal": "SIGUSR2", "stop_timeout": 3}
    assert stopping.plan(meta) == (12, 3)
    assert stopping.plan(meta, timeout=0, sig="KILL") == (9, 0)
    assert stopping.plan(stopping.settings({}, "USR1", "-1")) == (10, None)  # no limit
    for sig, timeout in (("SIGNOPE", None), (None, "1.5"), (None, "-2")):
        with pytest.raises(PycontainError):
            stopping.settings({}, sig, timeout)


def test_namespace_modes():
    opts = RunOptions(pid="host", ipc="shareable", uts="container:web")
    assert nsjoin.modes(opts) == {"pid": "host", "uts": "web"}
    assert nsjoin.own_namespaces(opts) == ["ipc", "uts"]
    for bad in (dict(pid="private"), dict(ipc="container:"), dict(uts="host", hostname="x")):
        with pytest.raises(PycontainError):
            nsjoin.modes(RunOptions(**bad))
    spec = build_spec({"Cmd": ["true"]}, [], RunOptions(pid="host", uts="host"), "c" * 64,
                      {}, "/init")
    spec = nsjoin.apply(spec, {"pid": "host", "uts": "host"})
    assert [ns["type"] for ns in spec["linux"]["namespaces"]] == ["ipc", "mount", "cgroup",
                                                                   "network"]
    assert "hostname" not in spec
