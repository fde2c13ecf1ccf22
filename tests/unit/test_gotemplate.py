"""The --format template evaluator (cli.gotemplate) and docker's table
layout (cli.listformat): what users type, and what must be refused."""
import pytest

from pycontain.cli.gotemplate import MAX_DEPTH, MAX_TEMPLATE, Template, go_str
from pycontain.cli.listformat import render, tabulate
from pycontain.errors import PycontainError

ROW = {"ID": "0123456789ab", "Names": "web", "Image": "busybox", "Ports": "",
       "Labels": {"tier": "front", "team": "a"}, "List": ["x", "y"], "Up": True,
       "Nested": {"State": {"Running": False, "Pid": 0}},
       "Label": lambda key: {"tier": "front"}.get(key, "")}


@pytest.mark.parametrize("text, expected", [
    ("{{.ID}}\t{{.Names}}", "0123456789ab\tweb"),
    ("id={{ .ID }}!", "id=0123456789ab!"),
    ("{{.Nested.State.Running}} {{.Nested.State.Pid}}", "false 0"),
    ('{{.Label "tier"}}|{{.Label "nope"}}', "front|"),
    ("{{json .Labels}}", '{"tier":"front","team":"a"}'),
    ("{{json .Names}}", '"web"'),
    ("{{.Labels}} {{.List}}", "map[team:a tier:front] [x y]"),
    ("{{.Names | upper}} {{lower \"AB\"}} {{title .Image}}", "WEB ab Busybox"),
    ('{{join .List ","}} {{index .Labels "team"}} {{len .List}}', "x,y a 2"),
    ('{{printf "%s:%d" .Names 80}} {{truncate .ID 4}}', "web:80 0123"),
    ("{{range .List}}[{{.}}]{{end}}", "[x][y]"),
    ("{{if .Up}}up{{else}}down{{end}} {{if .Ports}}p{{else}}none{{end}}", "up none"),
    ("a  {{- .Names -}}  b", "awebb"),
    ("{{/* a comment */}}plain `text` \\ ok", "plain `text` \\ ok"),
])
def test_renders_what_docker_users_type(text, expected):
    assert Template(text).render(ROW) == expected


def test_json_of_the_row_leaves_its_methods_out():
    assert '"Label"' not in Template("{{json .}}").render(ROW)


@pytest.mark.parametrize("text", [
    "{{.Nope}}", "{{.ID.Deeper}}", "{{nosuch .ID}}", "{{.ID", "{{if .Up}}x", "{{end}}",
    "{{else}}", '{{.ID "arg"}}', "{{ | upper}}", "{{.Names |}}", "{{(.ID)}}",
    "{{printf}}x{{index}}", "x" * (MAX_TEMPLATE + 1),
    "{{if .Up}}" * (MAX_DEPTH + 1) + "{{end}}" * (MAX_DEPTH + 1),
])
def test_refuses_what_it_does_not_know(text):
    with pytest.raises(PycontainError, match="template"):
        Template(text).render(ROW)


def test_work_and_widths_are_bounded():
    """A 3 KB template of nested ranges (400**8 iterations) or a padding of
    3 GB is refused at once, not after minutes or gigabytes."""
    many = '{{range split "' + "a" * 400 + '" "a"}}'
    with pytest.raises(PycontainError, match="steps"):
        Template(many * 8 + "x" + "{{end}}" * 8).render({})
    with pytest.raises(PycontainError, match="pad"):
        Template("{{pad .A 3000000000 0}}").render({"A": "x"})


def test_inspect_mode_prints_no_value_for_unknown_fields():
    assert Template("{{.Nope}}|{{.Nested.Nope}}", strict=False).render(ROW) == \
        "<no value>|<no value>"


def test_go_formatting_of_values():
    assert [go_str(v) for v in (None, True, 3.0, 2.5, [], {}, [1, [2]])] == \
        ["<no value>", "true", "3", "2.5", "[]", "map[]", "[1 [2]]"]


def test_table_header_from_field_names_and_columns_sized_to_content():
    rows = [{"ID": "a" * 12, "Names": "a-rather-long-container-name", "Image": "busybox"},
            {"ID": "b" * 12, "Names": "x", "Image": "docker.io/library/python:3.11-slim"}]
    headers = {"ID": "CONTAINER ID", "Names": "NAMES", "Image": "IMAGE"}
    lines = render(rows, r"table {{.ID}}\t{{.Image}}\t{{.Names}}", "", headers)
    assert lines == [
        "CONTAINER ID   IMAGE                                NAMES",
        "aaaaaaaaaaaa   busybox                              a-rather-long-container-name",
        "bbbbbbbbbbbb   docker.io/library/python:3.11-slim   x"]
    # no table: one line per row, \t a tab, no header
    assert render(rows, r"{{.ID}}\t{{.Names}}", "", headers)[1] == "b" * 12 + "\tx"
    # "table" alone: the command's default
    assert render(rows, "table", "table {{.Names}}", headers)[0] == "NAMES"


def test_tabulate_pads_to_docker_minimum_width():
    assert tabulate(["A\tB", "CC\tD"]) == ["A         B", "CC        D"]


def test_events_and_inspect_share_the_escapes():
    from pycontain.cli.listformat import split_format
    assert split_format(r"table {{.A}}\t{{.B}}\n") == (True, "{{.A}}\t{{.B}}\n")
    assert split_format(r"{{.A}}\t") == (False, "{{.A}}\t")
