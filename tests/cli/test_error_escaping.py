"""An error names what the user gave as it is, but never lets it forge the terminal's output
(SPEC §4: one `mvc: error:` line): control characters, line breaks and bidi controls in a path
or a name are written visibly (``\\x1b``, ``\\n``, ``\\u202e``), as warnings and `mvc diff`
write them. With ``--json`` the error document keeps the exact text (JSON escapes it)."""

from __future__ import annotations

import json
import re

# what must never reach stderr raw: C0 and C1 controls (line breaks included), DEL, Unicode's
# line separators and the bidi embeddings, overrides and isolates
RAW = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")


def _one_line(proc, code: int, *shown: str) -> str:
    """stderr is one ``mvc: error:`` line with nothing raw in it, naming ``shown`` escaped."""
    assert proc.returncode == code, (proc.returncode, proc.stderr)
    err = proc.stderr
    assert err.startswith("mvc: error: ") and err.endswith("\n") and err.count("\n") == 1, repr(err)
    assert not RAW.search(err[:-1]), repr(err)
    for text in shown:
        assert text in err, (text, err)
    return err


def test_a_path_with_escape_sequences_and_a_newline_is_one_visible_line(repo):
    proc = repo("add", "bad\x1b[31mname\n.bin", "--name", "m", check=False)
    _one_line(proc, 1, "bad\\x1b[31mname\\n.bin", "does not exist")
    assert proc.stdout == ""


def test_a_bidi_override_or_isolate_in_a_path_is_written_as_its_code(repo):
    (repo.cwd / "m.bin").write_bytes(b"weights")
    proc = repo("add", "m.bin", "--name", "m", "--metrics-file", "evil\u202egnp.json", check=False)
    _one_line(proc, 1, "evil\\u202egnp.json")
    repo("add", "m.bin", "--name", "m")
    proc = repo("checkout", "m@0.1.0", "-o", ".mvc/\r\u2066x\u2069", check=False)
    _one_line(proc, 1, ".mvc/\\r\\u2066x\\u2069", "refusing to check out")


def test_a_model_name_or_ref_with_a_newline_stays_one_line(repo):
    for args in (["show", "m\nmvc: fake"], ["show", "m@0.1.0\x1b[2J"], ["tag", "m@0.1.0", "x\ry"]):
        _one_line(repo(*args, check=False), 1)


def test_with_json_the_error_document_keeps_the_exact_text(repo):
    proc = repo("add", "bad\x1b[31mname\n.bin", "--name", "m", "--json", check=False)
    _one_line(proc, 1, "bad\\x1b[31mname\\n.bin")
    doc = json.loads(proc.stdout)
    assert doc == {"error": {"type": "invalid",
                             "message": "model path bad\x1b[31mname\n.bin does not exist; check the path"}}
    assert "\x1b" not in proc.stdout and proc.stdout.count("\n") == 1  # JSON wrote \u001b and \n


def test_a_usage_error_keeps_its_hint_on_a_line_of_its_own(repo):
    proc = repo("ls", "--bogus", check=False)
    assert proc.returncode == 2
    assert proc.stderr == "mvc: error: No such option: --bogus\nTry 'mvc ls --help' for help.\n"
    proc = repo("ls", "--bogus", "--json", check=False)
    assert json.loads(proc.stdout)["error"]["message"] == "No such option: --bogus\nTry 'mvc ls --help' for help."
