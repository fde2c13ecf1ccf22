"""The Dockerfile parser, substitution and .dockerignore rules (no root)."""
import pytest

from pycontain.build import ignore, parser
from pycontain.build.parser import DockerfileError, parse
from pycontain.build import substitution
from pycontain.build.substitution import Lexer, SubstitutionError, key_values


def test_directives_continuations_comments_and_forms():
    df = parse("# syntax=docker/dockerfile:1\n# escape=`\nFROM busybox AS b\n"
               "# a comment\nRUN echo a `\n  # inside\n\n  && echo b\n"
               "COPY --chown=1:2 --from=b a b /\nCMD [\"a\", \"b\"]\nENTRYPOINT echo [\n")
    cmds = [(i.cmd, i.line) for i in df.instructions]
    assert cmds == [("from", 3), ("run", 5), ("copy", 9), ("cmd", 10), ("entrypoint", 11)]
    assert df.escape == "`"
    assert df.instructions[1].args == "echo a   && echo b"
    assert df.instructions[2].flags == [("chown", "1:2"), ("from", "b")]
    assert df.instructions[3].exec_form == ["a", "b"]
    assert df.instructions[4].exec_form is None  # not JSON: the shell form


def test_directive_after_a_comment_is_a_comment():
    df = parse("# hello\n# escape=`\nFROM a\nRUN x \\\n y\n")
    assert df.escape == "\\" and df.instructions[1].args == "x  y"


def test_heredocs():
    df = parse("FROM a\nRUN <<EOF\necho $HOME\nEOF\nCOPY <<-'X' /f\n\tliteral $Y\nX\n")
    run, copy = df.instructions[1:]
    assert (run.heredocs[0].name, run.heredocs[0].content, run.heredocs[0].expand) == \
        ("EOF", "echo $HOME\n", True)
    assert (copy.heredocs[0].content, copy.heredocs[0].expand) == ("literal $Y\n", False)


@pytest.mark.parametrize("text, line, problem", [
    ("FROM a\nFROBNICATE x\n", 2, "unknown instruction: FROBNICATE"),
    ("FROM a\nRUN <<EOF\nno end\n", 2, "unterminated heredoc EOF"),
    ("FROM a\nSHELL /bin/bash -c\n", 2, "SHELL requires the arguments as a JSON array"),
    ("# escape=x\nFROM a\n", 1, "invalid escape token"),
])
def test_errors_name_file_and_line(text, line, problem):
    with pytest.raises(DockerfileError) as info:
        parse(text, "Dockerfile")
    assert str(info.value).startswith(f"Dockerfile:{line}: {problem}")
    assert info.value.code == 125


def test_bounds():
    with pytest.raises(DockerfileError, match="larger than"):
        parse("#" * (parser.MAX_SIZE + 1))
    with pytest.raises(DockerfileError, match="more than .* lines"):
        parse("\n" * (parser.MAX_LINES + 1))
    big = "x" * 1000 + "\n"
    with pytest.raises(DockerfileError, match="heredoc larger"):
        parse("FROM a\nRUN <<E\n" + big * 600 + "E\n")


def test_substitution_forms():
    lex = Lexer({"A": "x y", "B": "", "C": "c"})
    assert lex.words('$A "$A" ${B:-d} ${B-d} ${C:+yes} ${D:+no}end \'$C\' a\\ b ${D:-${C}}') == \
        ["x", "y", "x y", "d", "", "yes", "end", "$C", "a b", "c"]
    assert lex.word('"/a b"/$C') == "/a b/c"
    assert {"A", "B", "C", "D"} <= lex.used
    with pytest.raises(SubstitutionError):
        lex.word("${D:?must be set}")
    with pytest.raises(SubstitutionError, match="nested deeper"):
        lex.word("${A:-" * 40 + "}" * 40)


def test_env_pairs_use_the_values_before_the_instruction():
    lex = Lexer({"a": "old"})
    assert key_values(lex, 'a=new b=$a c="x y" d=\\$a', "ENV") == \
        [("a", "new"), ("b", "old"), ("c", "x y"), ("d", "$a")]
    assert key_values(lex, "K some value", "ENV") == [("K", "some value")]


def test_a_long_word_expands_whole():
    """Linear in the word's length (a 200 KB LABEL took minutes when the
    length was summed again at every character)."""
    word = "a" * 200_000
    assert key_values(Lexer({}), f"a={word}", "LABEL") == [("a", word)]
    assert Lexer({"W": word}).word(f'"$W"{word}\\ $W') == word * 2 + " " + word


def test_expansion_bounds():
    size = substitution.MAX_RESULT
    big = {"H": "x" * (size // 2), "S": "1 " * 1000}
    assert len(Lexer(big).word("$H$H")) == size
    too_long = "^a word or heredoc expands to more than 1 MiB"
    for text in ("$H$H.", '"$H$H$H"', "${U:-$H$H$H}"):
        with pytest.raises(SubstitutionError, match=too_long):
            Lexer(big).word(text)
    with pytest.raises(SubstitutionError, match=too_long):
        Lexer(big).expand_plain("$H" * 3)  # a heredoc's body
    pairs = " ".join(f"k{i}=$H$H" for i in range(substitution.MAX_TOTAL // size + 1))
    with pytest.raises(SubstitutionError, match="^the expansions add up to more than 8 MiB"):
        key_values(Lexer(big), pairs, "LABEL")
    assert len(Lexer(big).words("$S " * 65)) == 65_000
    with pytest.raises(SubstitutionError, match=f"^more than {substitution.MAX_WORDS} words"):
        Lexer(big).words("$S " * 66)
    with pytest.raises(SubstitutionError, match="^more than"):
        Lexer({}).words("a " * (substitution.MAX_WORDS + 1))


def test_many_flags_are_split_in_linear_time():
    flags, rest = parser.split_flags("--a=1 " * 150_000 + "--b\t --c x --d")
    assert len(flags) == 150_002 and flags[-1] == ("c", None) and rest == "x --d"


def test_dockerignore_rules():
    rules = ignore.Ignore.from_text("# c\n*.log\n**/tmp\n!keep.log\nbuild/\n/abs\n")
    assert rules.excluded("a.log") and not rules.excluded("keep.log")
    assert rules.excluded("x/y/tmp") and rules.excluded("tmp/file")
    assert rules.excluded("build/out/z") and rules.excluded("abs")
    assert not rules.excluded("dir/a.log")  # '*' does not cross '/'
    last = ignore.Ignore.from_text("!a\na\n")
    assert last.excluded("a")  # the last match wins
    assert not rules.may_hold_exception("build") and rules.may_hold_exception("keep.log")


def test_backtick_escape_leaves_backslashes_literal():
    df = parse("# escape=`\nFROM a\nLABEL path=C:\\x `\n  b=c\n")
    lex = Lexer({}, df.escape)
    assert key_values(lex, df.instructions[1].args, "LABEL") == [("path", "C:\\x"), ("b", "c")]
