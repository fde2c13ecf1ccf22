"""`pycontain fn serve` under load: a burst of clients at once, a fresh
network namespace for every call, memory per warm function in /status,
idle zygotes reaped after --idle-ttl. No timing asserts: speed is
bench/fn_serve.py's."""
import http.client
import json
import os
import threading

import pytest
from helpers import alive, created_functions, wait_for
from test_fn_serve_http import start  # noqa: F401 - a fixture (with our functions)

CODE = '''
import os, socket
def hello(event, context):
    return {"greeting": "Hello, " + event["name"]}
def fresh(event, context):
    s = socket.socket()
    cookie = int.from_bytes(s.getsockopt(socket.SOL_SOCKET, 71, 8), "little")  # SO_NETNS_COOKIE
    s.close()
    tmp = os.listdir("/tmp")
    open("/tmp/mark", "w").close()  # the next call must not see it
    return {"cookie": cookie, "tmp": tmp, "nice": os.getpriority(os.PRIO_PROCESS, 0),
            "ns": {k: os.stat(f"/proc/self/ns/{k}").st_ino
                   for k in ("net", "pid", "ipc", "uts", "mnt")}}
'''
FUNCTIONS = {"load-a": "app.hello", "load-b": "app.hello", "load-fresh": "app.fresh"}
INVOKE = "/2015-03-31/functions/{}/invocations"


@pytest.fixture(scope="module")
def functions(engine_env, tmp_path_factory):
    yield from created_functions(engine_env, tmp_path_factory.mktemp("fnload"), CODE, FUNCTIONS)


def _clients(port: int, count: int, calls: int, call_of) -> list:
    """count clients at once, each with its own keep-alive connection making
    calls calls of call_of(client, n) = (function, event): every (status, body)."""
    results, lock, gate = [], threading.Lock(), threading.Barrier(count)

    def client(i):
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        mine = []
        gate.wait()
        try:
            for n in range(calls):
                name, event = call_of(i, n)
                conn.request("POST", INVOKE.format(name), json.dumps(event))
                response = conn.getresponse()
                mine.append((response.status, response.read()))
        except OSError as exc:
            mine.append((0, repr(exc).encode()))
        finally:
            conn.close()
            with lock:
                results.extend(mine)
    threads = [threading.Thread(target=client, args=(i,)) for i in range(count)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results


def test_a_burst_of_clients_all_answered(start):
    """... and afterwards each function keeps only its --spares spares (a
    burst has it keep one per running call)."""
    srv = start("--spares", "1")
    results = _clients(srv.port, 8, 10, lambda i, n: (f"load-{'ab'[i % 2]}",
                                                      {"name": f"{i}-{n}"}))
    assert len(results) == 80
    failed = [r for r in results if r[0] != 200 or b"Hello, " not in r[1]]
    assert not failed, failed[:3]
    names = sorted(json.loads(body)["greeting"] for _, body in results)
    assert names == sorted(f"Hello, {i}-{n}" for i in range(8) for n in range(10))
    status = srv.status()["functions"]
    assert status["load-a"]["calls"] + status["load-b"]["calls"] == 80

    def settled():  # the zygote, its forker and one spare
        return all(srv.status()["functions"][name]["memory"]["processes"] <= 3
                   for name in ("load-a", "load-b"))
    wait_for(settled, 30, "the burst's extra spares retired")


def test_every_call_has_fresh_namespaces_and_tmp(start):
    """200 calls: a network namespace of its own each (its cookie, which the
    kernel never reuses; inode numbers it does reuse once one is freed), none
    the server's, and an empty /tmp."""
    srv = start()
    results = _clients(srv.port, 4, 50, lambda i, n: ("load-fresh", {}))
    assert [r[0] for r in results] == [200] * 200, results[:3]
    answers = [json.loads(body) for _, body in results]
    assert len({a["cookie"] for a in answers}) == 200
    assert all(a["tmp"] == [] for a in answers)
    assert {a["nice"] for a in answers} == {os.getpriority(os.PRIO_PROCESS, 0)}  # never above
    ours = {k: os.stat(f"/proc/self/ns/{k}").st_ino for k in ("net", "pid", "ipc", "uts", "mnt")}
    assert all(a["ns"][k] != ours[k] for a in answers for k in ours)


def test_status_shows_memory_per_warm_function(start):
    srv = start("--spares", "2")
    _clients(srv.port, 2, 3, lambda i, n: (f"load-{'ab'[i % 2]}", {"name": "x"}))
    status = srv.status()
    total = 0
    for name in ("load-a", "load-b"):
        fn = status["functions"][name]
        assert fn["warm"] and fn["memory"]["pss_kib"] > 0
        assert fn["memory"]["processes"] >= 2  # the zygote and its forker, spares besides
        total += fn["memory"]["pss_kib"]
    # the sum is read a moment later: a spare may have come or gone meanwhile
    assert status["warm_pss_kib"] > 0 and abs(status["warm_pss_kib"] - total) < total
    server = status["server"]
    assert 0 < server["private_kib"] <= server["pss_kib"] <= server["rss_kib"]
    assert server["threads"] >= 2 and server["fds"] > 3


def test_idle_zygotes_reaped_after_idle_ttl(start):
    srv = start("--idle-ttl", "1")
    assert json.loads(srv.invoke("load-a", {"name": "x"})["Body"])["greeting"] == "Hello, x"
    first = srv.status()["functions"]["load-a"]["zygote_pid"]
    assert first and alive(first)
    wait_for(lambda: not srv.status()["functions"]["load-a"]["warm"], 30, "the zygote reaped")
    wait_for(lambda: not alive(first), 10, "the zygote gone")
    status = srv.status()
    assert status["warm_zygotes"] == 0 and status["functions"]["load-a"]["memory"] is None
    assert json.loads(srv.invoke("load-a", {"name": "y"})["Body"])["greeting"] == "Hello, y"
    assert srv.status()["functions"]["load-a"]["zygote_pid"] not in (None, first)
