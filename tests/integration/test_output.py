"""What docker users read: logs with their streams apart (json-file),
--tail/--since/--until/-t; stats NET I/O; Go-template --format, --filter
and -q on ps and images; the PORTS column; archives through pipes."""
import json
import os
import pty
import re
import subprocess
import sys

import pytest

from conftest import PYCONTAIN
from helpers import IDLE, one_error_line, wait_for

STAMP = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z"


def _status(pc, ref):
    return json.loads(pc.out("inspect", ref))[0]["State"]["Status"]


def _records(pc, ref) -> list:
    path = json.loads(pc.out("inspect", ref))[0]["LogPath"]
    with open(path) as f:
        return [json.loads(line) for line in f]


def _shell(pc, command: str, **kwargs) -> subprocess.CompletedProcess:
    """A shell pipeline in which $PC is the engine."""
    return subprocess.run(["sh", "-c", command], env=dict(pc.env, PC=PYCONTAIN),
                          capture_output=True, timeout=120, **kwargs)


@pytest.fixture
def talker(pc):
    cid = pc.out("run", "-d", "--name", "talker", "busybox", "sh", "-c",
                 "echo out1; echo err1 >&2; echo out2; echo err2 >&2; printf tail").strip()
    try:
        wait_for(lambda: _status(pc, cid) == "exited", what="the container to finish")
        yield cid
    finally:
        pc("rm", "-f", cid)


def test_logs_keep_stdout_and_stderr_apart_in_json_file_records(pc, talker):
    result = pc("logs", "talker")
    assert result.returncode == 0
    assert (result.stdout, result.stderr) == ("out1\nout2\ntail", "err1\nerr2\n")
    records = _records(pc, talker)
    assert sorted(r["log"] for r in records) == ["err1\n", "err2\n", "out1\n", "out2\n", "tail"]
    for r in records:
        assert set(r) == {"log", "stream", "time"} and re.fullmatch(STAMP, r["time"])
        assert r["stream"] == ("stderr" if r["log"].startswith("err") else "stdout")


def test_logs_tail_since_until_and_timestamps(pc, talker):
    records = _records(pc, talker)

    def split(rs):
        return ("".join(r["log"] for r in rs if r["stream"] == "stdout"),
                "".join(r["log"] for r in rs if r["stream"] == "stderr"))

    for n in (0, 1, 2, 5, 10):
        result = pc("logs", "--tail", n, "talker")
        assert (result.stdout, result.stderr) == split(records[len(records) - n:] if n else [])
    assert pc("logs", "-n", "all", "talker").stdout == split(records)[0]
    second = records[1]["time"]
    result = pc("logs", "--since", second, "talker")
    assert (result.stdout, result.stderr) == split([r for r in records if r["time"] >= second])
    result = pc("logs", "--until", records[0]["time"], "talker")
    assert (result.stdout, result.stderr) == split([r for r in records
                                                    if r["time"] <= records[0]["time"]])
    assert pc("logs", "--since", "10m", "talker").stdout == split(records)[0]
    assert pc("logs", "--until", "10m", "talker").stdout == ""
    assert pc("logs", "--since", "2000-01-01", "--until", "2000-01-02", "talker").stdout == ""
    stamped = pc("logs", "-t", "talker")
    assert stamped.stdout.splitlines() == [f"{r['time']} {r['log']}".rstrip("\n")
                                           for r in records if r["stream"] == "stdout"]
    assert all(re.match(STAMP + " err", line) for line in stamped.stderr.splitlines())
    for bad in (("--since", "yesterday"), ("--tail", "x"), ("--until", "5 minutes")):
        assert "invalid" in one_error_line(pc("logs", *bad, "talker"))


def test_logs_read_the_plain_log_of_an_earlier_version_first(pc, talker):
    """A container run before the json-file log has a plain ctr.log (both
    streams mixed): read as stdout, before what it wrote since."""
    (pc.root / "containers" / talker / "ctr.log").write_text("old1\nold2\n")
    records = _records(pc, talker)
    stdout = "".join(r["log"] for r in records if r["stream"] == "stdout")
    assert pc.out("logs", "talker") == "old1\nold2\n" + stdout
    assert pc.out("logs", "--tail", len(records) + 1, "talker") == "old2\n" + stdout
    assert pc.out("logs", "--tail", 1, "talker") == \
        (records[-1]["log"] if records[-1]["stream"] == "stdout" else "")


def test_logs_of_a_created_container_are_empty_until_it_starts(pc):
    pc.out("create", "--name", "later", "busybox", "sh", "-c", "echo started; echo oops >&2")
    try:
        result = pc("logs", "later")
        assert (result.returncode, result.stdout, result.stderr) == (0, "", "")
        pc.out("start", "later")
        wait_for(lambda: _status(pc, "later") == "exited", what="the container to finish")
        result = pc("logs", "later")
        assert (result.stdout, result.stderr) == ("started\n", "oops\n")
    finally:
        pc("rm", "-f", "later")


def test_logs_tail_of_a_big_log_reads_only_its_end(pc, talker):
    """--tail 2 of a 48 MB log: the last lines, memory not growing with the log."""
    path = json.loads(pc.out("inspect", talker))[0]["LogPath"]
    record = json.dumps({"log": "x" * 200 + "\n", "stream": "stdout",
                         "time": "2030-01-01T00:00:00.000000000Z"}) + "\n"
    with open(path, "a") as f:
        for _ in range(48 * 1024 * 1024 // len(record) // 1024):
            f.write(record * 1024)
        f.write(record.replace("x" * 200, "last-one"))

    def max_rss_kb(*args) -> tuple:
        probe = ("import resource, subprocess, sys; "
                 "r = subprocess.run(sys.argv[1:], capture_output=True); "
                 "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss); "
                 "sys.stdout.write(r.stdout.decode()[-300:])")
        out = subprocess.run([sys.executable, "-c", probe, PYCONTAIN, *args], env=pc.env,
                             capture_output=True, text=True, check=True, timeout=60).stdout
        rss, _, rest = out.partition("\n")
        return int(rss), rest

    small, _ = max_rss_kb("ps", "-a")
    big, out = max_rss_kb("logs", "--tail", "2", "talker")
    assert out == "x" * 200 + "\nlast-one\n"
    assert big - small < 16 * 1024, (small, big)  # kB: far below the log's 48 MB


def test_stats_net_io_counts_a_bridge_containers_traffic(npc):
    npc.out("run", "-d", "--name", "net1", "--network", "bridge", "busybox", "sh", "-c", IDLE)
    try:
        gateway = json.loads(npc.out("network", "inspect", "bridge"))[0]["Gateway"]
        npc.out("exec", "net1", "ping", "-c", "3", "-s", "1000", "-q", gateway)
        [row] = [json.loads(line) for line in
                 npc.out("stats", "--no-stream", "--format", "json", "net1").splitlines()]
        assert row["NetRxBytes"] >= 3000 and row["NetTxBytes"] >= 3000, row
        assert re.fullmatch(r"[\d.]+kB / [\d.]+kB", row["NetIO"]), row["NetIO"]
        table = npc.out("stats", "--no-stream", "--format", r"table {{.Name}}\t{{.NetIO}}", "net1")
        assert table.splitlines()[0] == "NAME      NET I/O"
        assert re.fullmatch(r"net1      [\d.]+kB / [\d.]+kB", table.splitlines()[1])
    finally:
        npc("rm", "-f", "net1")


def _set_labels(pc, name: str, labels: dict) -> None:
    """run --label where this engine has it, else the record it writes."""
    cid = json.loads(pc.out("inspect", name))[0]["Id"]
    path = pc.root / "containers" / cid / "container.json"
    meta = json.loads(path.read_text())
    meta["labels"] = labels
    path.write_text(json.dumps(meta))


def test_ps_templates_filters_ports_and_times(npc):
    web = npc.out("run", "-d", "--name", "web", "-p", "18080:80", "busybox", "sh", "-c",
                  IDLE).strip()
    job = npc.out("run", "-d", "--name", "a-rather-long-container-name", "busybox",
                  "sh", "-c", "exit 3").strip()
    try:
        wait_for(lambda: _status(npc, job) == "exited", what="the job to exit")
        _set_labels(npc, job, {"tier": "back", "team": "data"})
        lines = npc.out("ps", "-a").splitlines()
        header = lines[0]
        assert re.fullmatch(r"CONTAINER ID +IMAGE +COMMAND +CREATED +STATUS +PORTS +NAMES",
                            header)
        rows = {line.split()[-1]: line for line in lines[1:]}
        assert "0.0.0.0:18080->80/tcp" in rows["web"]
        for name, line in rows.items():  # columns line up, nothing cut or run together
            assert line.index(name) == header.index("NAMES") and line.endswith(name)
            assert line[header.index("IMAGE"):].startswith("localhost/busybox:latest ")
        assert re.search(r"Exited \(3\) (\d+ seconds|Less than a second|1 second) ago",
                         rows["a-rather-long-container-name"])
        assert re.search(r"Up (\d+ seconds|Less than a second|1 second)", rows["web"])

        def names(*args):
            return npc.out("ps", *args, "--format", "{{.Names}}").split()

        assert names() == ["web"]
        assert sorted(names("-a")) == ["a-rather-long-container-name", "web"]
        assert names("--filter", "name=rather") == []  # not running: needs -a
        assert names("-a", "--filter", "name=rather") == ["a-rather-long-container-name"]
        assert names("--filter", "status=exited") == ["a-rather-long-container-name"]
        assert names("--filter", "exited=3") == ["a-rather-long-container-name"]
        assert names("--filter", "exited=0") == []
        assert names("-a", "--filter", "label=tier") == ["a-rather-long-container-name"]
        assert names("-a", "--filter", "label=tier=back", "--filter", "label=team") == \
            ["a-rather-long-container-name"]
        assert names("-a", "--filter", "label=tier=front") == []
        assert sorted(names("-a", "--filter", "ancestor=busybox")) == \
            ["a-rather-long-container-name", "web"]
        assert names("-a", "--filter", "network=bridge") == ["web"]
        assert names("-a", "--filter", f"id={web[:6]}") == ["web"]
        assert npc.out("ps", "-q").split() == [web[:12]]
        assert npc.out("ps", "-aq", "--no-trunc", "--filter", "status=running").split() == [web]
        table = npc.out("ps", "--format", r"table {{.ID}}\t{{.Names}}\t{{.Ports}}").splitlines()
        assert table == ["CONTAINER ID   NAMES     PORTS",
                         f"{web[:12]}   web       0.0.0.0:18080->80/tcp"]
        labels = npc.out("ps", "-a", "--filter", "label=tier",
                         "--format", '{{.Label "tier"}} {{.Labels}} {{json .Names}}')
        assert labels == 'back team=data,tier=back "a-rather-long-container-name"\n'
        [row] = [json.loads(line) for line in
                 npc.out("ps", "--format", "{{json .}}").splitlines()]
        assert row["ID"] == web[:12] and row["Ports"] == "0.0.0.0:18080->80/tcp"
        assert row["State"] == "running" and row["Names"] == "web"
        [legacy] = json.loads(npc.out("ps", "--format", "json"))
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT[\d:.]+Z", legacy["Created"])
        assert one_error_line(npc("ps", "--filter", "colour=red")).startswith("pycontain:")
        assert "Nope" in one_error_line(npc("ps", "--format", "{{.Nope}}"))
        assert "status" in one_error_line(npc("ps", "--filter", "status=sleepy"))
    finally:
        npc("rm", "-f", web, job)


def test_images_templates_filters_and_quiet(pc, tmp_path):
    (tmp_path / "Dockerfile").write_text("FROM busybox\nLABEL tier=front team=web\n")
    image_id = pc.out("build", "-q", "-t", "labelled:1", str(tmp_path)).strip()
    try:
        ids = pc.out("images", "-q").split()
        assert image_id.split(":")[-1][:12] in ids and len(ids) == len(set(ids))

        def repos(*args):
            return pc.out("images", *args, "--format", "{{.Repository}}:{{.Tag}}").split()

        assert repos("--filter", "label=tier=front") == ["labelled:1"]
        assert repos("--filter", "label=team", "--filter", "label=tier") == ["labelled:1"]
        assert repos("--filter", "label=tier=back") == []
        assert repos("--filter", "reference=labelled:*") == ["labelled:1"]
        assert repos("--filter", "reference=labelled", "--filter", "dangling=false") == \
            ["labelled:1"]
        assert "labelled:1" in repos("--filter", "since=localhost/busybox")
        assert "labelled:1" not in repos("--filter", "before=labelled:1")
        assert pc.out("images", "--filter", "label=tier", "--format",
                      '{{.ID}} {{.Label "team"}} {{.Labels}}') == \
            f"{image_id.split(':')[-1][:12]} web team=web,tier=front\n"
        table = pc.out("images", "--filter", "reference=labelled",
                       "--format", r"table {{.Repository}}\t{{.Tag}}\t{{.Size}}").splitlines()
        assert re.fullmatch(r"REPOSITORY +TAG +SIZE", table[0])
        assert re.fullmatch(r"labelled +1 +[\d.]+[kM]B", table[1])
        info = pc.out("image", "inspect", "-f", "{{.Config.Labels}}", "labelled:1")
        assert info == "map[team:web tier:front]\n"
        assert "dangling" in one_error_line(pc("images", "--filter", "dangling=maybe"))
    finally:
        pc("rmi", "labelled:1")


def test_save_load_import_and_export_through_pipes(pc, tmp_path):
    pc.out("tag", "localhost/busybox:latest", "localhost/piped:1")
    archive = tmp_path / "piped.tar"
    try:
        result = _shell(pc, f'"$PC" save localhost/piped:1 | cat > {archive}')
        assert result.returncode == 0 and archive.stat().st_size > 1 << 20, result.stderr
        pc.out("rmi", "localhost/piped:1")
        result = _shell(pc, f'cat {archive} | "$PC" load')
        assert result.returncode == 0, result.stderr
        assert b"Loaded image: localhost/piped:1" in result.stdout
        assert pc.out("images", "-q", "--filter", "reference=localhost/piped:1").strip()
        # on a terminal, save refuses (and writes nothing there)
        primary, secondary = pty.openpty()
        try:
            refused = subprocess.run([PYCONTAIN, "save", "localhost/piped:1"], env=pc.env,
                                     stdout=secondary, stderr=subprocess.PIPE, timeout=30)
        finally:
            os.close(secondary)
            os.close(primary)
        assert refused.returncode == 125 and b"terminal" in refused.stderr
        empty = pc("load", input="")
        assert "stdin" in one_error_line(empty)
        pc.out("run", "--name", "exported", "busybox", "sh", "-c", "echo hi > /marker")
        result = _shell(pc, '"$PC" export exported | "$PC" import - localhost/flat:1')
        assert result.returncode == 0, result.stderr
        assert pc.out("run", "--rm", "localhost/flat:1", "cat", "/marker") == "hi\n"
    finally:
        pc("rm", "-f", "exported")
        pc("rmi", "localhost/piped:1", "localhost/flat:1")


def test_volume_ls_and_inspect_templates(pc):
    pc.out("volume", "create", "--label", "tier=db", "tmpl-data")
    try:
        lines = pc.out("volume", "ls", "--filter", "name=tmpl",
                       "--format", r'table {{.Name}}\t{{.Label "tier"}}\t{{.Labels}}').splitlines()
        assert lines == ["VOLUME NAME   LABEL     LABELS", "tmpl-data     db        tier=db"]
        assert pc.out("volume", "inspect", "-f", "{{.Name}} {{.Labels.tier}}", "tmpl-data") == \
            "tmpl-data db\n"
    finally:
        pc("volume", "rm", "tmpl-data")
