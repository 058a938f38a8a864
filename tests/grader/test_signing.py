"""Signed results (grader/signing.py): a grade edited after signing is INVALID, one never
signed is unsigned, and the key shows up nowhere.

The results are the report tests' sample results written as the grader writes them; the
command-line tests run the installed console script on them (``sign``, ``verify``,
``summary``, ``report``), with the keys in the environment or in files as a CI job would."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from report.fixtures import broken_result, graded_result

from grader.report import write_reports
from grader.signing import (
    Keys,
    SigningError,
    canonical,
    load_keys,
    provenance_for,
    sign_document,
    verify_document,
)

GRADER = Path(sys.executable).with_name("grader")
KEY = "k3y-" + "0123456789abcdef" * 3  # 52 characters: long enough, and easy to search for
OTHER_KEY = "another-key-" + "f" * 40


def document() -> dict:
    return graded_result().to_dict()


def hmac_keys(key: str = KEY) -> Keys:
    return load_keys(environ={"GRADER_SIGNING_KEY": key})


def signed(doc: dict | None = None, keys: Keys | None = None, **where: str) -> dict:
    doc = doc if doc is not None else document()
    return sign_document(doc, keys or hmac_keys(), provenance_for(doc, **where))


# --- the signature ------------------------------------------------------------------------


def test_the_canonical_content_ignores_layout_and_key_order_but_not_values() -> None:
    doc = document()
    shuffled = json.loads(json.dumps(dict(reversed(list(doc.items()))), indent=4))
    assert canonical(shuffled) == canonical(doc)
    assert canonical({**doc, "signature": {"anything": 1}}) == canonical(doc)
    assert canonical({**doc, "overall": doc["overall"] + 0.1}) != canonical(doc)


def test_a_signed_result_verifies_with_its_provenance() -> None:
    doc = signed(repository="acme/alice", commit="a" * 40)
    check = verify_document(json.loads(json.dumps(doc, indent=2)), hmac_keys())
    assert check.status == "verified", check.reason
    provenance = check.provenance
    assert provenance["submission_sha256"] == doc["submission"]["sha256"]
    assert provenance["assignment"] == doc["assignment"] == "transformer_lm"
    assert (provenance["repository"], provenance["commit"]) == ("acme/alice", "a" * 40)
    assert provenance["harness"]["version"] and len(provenance["harness"]["code"]) == 16


@pytest.mark.parametrize(
    "edit",
    [
        lambda d: d.update(overall=100.0),
        lambda d: d["criteria"]["completion"].update(score=100.0),
        lambda d: d["tasks"]["attention"].update(status="pass"),
        lambda d: d["provenance"].update(repository="acme/mallory"),
        lambda d: d.pop("errors"),
    ],
    ids=["overall", "criterion", "task", "provenance", "removed-field"],
)
def test_any_edit_after_signing_makes_the_result_invalid(edit) -> None:
    doc = signed(repository="acme/alice")
    edit(doc)
    check = verify_document(doc, hmac_keys())
    assert check.status == "INVALID"
    assert "changed after it was signed" in check.reason


def test_a_result_signed_with_another_key_says_so() -> None:
    check = verify_document(signed(keys=hmac_keys(OTHER_KEY)), hmac_keys())
    assert check.status == "INVALID" and "another key" in check.reason


def test_unsigned_unchecked_and_malformed_signatures() -> None:
    assert verify_document(document(), hmac_keys()).status == "unsigned"
    assert verify_document(signed(), Keys()).status == "unchecked"
    doc = signed()
    doc["signature"] = {"scheme": "grader-signature/1"}
    assert verify_document(doc, hmac_keys()).status == "INVALID"
    doc["signature"] = "trust me"
    assert verify_document(doc, hmac_keys()).status == "INVALID"


def test_a_provenance_that_names_another_submission_is_invalid() -> None:
    doc = document()
    lying = {**provenance_for(doc), "submission_sha256": "0" * 64}
    check = verify_document(sign_document(doc, hmac_keys(), lying), hmac_keys())
    assert check.status == "INVALID" and "another submission" in check.reason


def test_ed25519_verifies_with_the_public_key_alone_which_cannot_sign() -> None:
    private = Ed25519PrivateKey.generate()
    doc = signed(keys=Keys(private=private))
    reviewer = Keys(public=private.public_key())
    assert not reviewer.can_sign
    assert verify_document(doc, reviewer).status == "verified"
    doc["overall"] = 99.0
    assert verify_document(doc, reviewer).status == "INVALID"
    stranger = Keys(public=Ed25519PrivateKey.generate().public_key())
    assert "another key" in verify_document(signed(keys=Keys(private=private)), stranger).reason
    with pytest.raises(SigningError, match="no signing key"):
        sign_document(document(), reviewer, {})


def test_keys_are_never_shown(tmp_path: Path) -> None:
    keys = hmac_keys()
    assert KEY not in repr(keys) and KEY not in str(keys)
    with pytest.raises(SigningError) as short:
        load_keys(environ={"GRADER_SIGNING_KEY": "tiny-secret"})
    assert "tiny-secret" not in str(short.value) and "shorter than" in str(short.value)
    (tmp_path / "not.pem").write_text(KEY)
    with pytest.raises(SigningError) as bad:
        load_keys(private_file=str(tmp_path / "not.pem"))
    assert KEY not in str(bad.value)
    doc = signed()
    assert KEY not in json.dumps(doc)


# --- the command line ---------------------------------------------------------------------


def grader(*args: str, env: dict[str, str] | None = None, cwd: Path | None = None):
    base = {k: v for k, v in os.environ.items() if not k.startswith("GRADER_")}
    return subprocess.run(
        [str(GRADER), *args],
        capture_output=True,
        text=True,
        env={**base, **(env or {})},
        cwd=cwd,
        timeout=300,
        check=False,
    )


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """Three downloaded "runs": signed (alice), signed then forged (mallory: a better grade),
    and never signed (bob); every command's output is kept to search for the key."""
    if not GRADER.is_file():
        pytest.skip(f"the console script {GRADER} is not installed")
    root = tmp_path_factory.mktemp("signed-runs")
    alice = graded_result()
    mallory = replace(alice, submission=replace(alice.submission, name="mallory"))
    bob = broken_result()
    for folder, result in (("alice", alice), ("mallory", mallory), ("bob", bob)):
        write_reports(result, root / "runs" / folder / result.submission.name)
    outputs = []
    env = {"GRADER_SIGNING_KEY": KEY}
    for name in ("alice", "mallory"):
        done = grader(
            "sign", str(root / "runs" / name), "--repository", f"acme/{name}", "--commit", "c" * 40,
            env=env,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
        outputs.append(done)
    forged = root / "runs" / "mallory" / "mallory" / "result.json"
    data = json.loads(forged.read_text())
    data["overall"] = 100.0
    forged.write_text(json.dumps(data, indent=2))
    # A scorecard planted beside a result: the leaderboard must never link it.
    (forged.parent / "scorecard.html").write_text("<script>window.__planted = 1</script>")
    return {"root": root, "env": env, "outputs": outputs, "forged": forged}


def test_verify_names_each_file_verified_unsigned_or_invalid(runs: dict) -> None:
    root = runs["root"] / "runs"
    done = grader("verify", str(root), env=runs["env"])
    runs["outputs"].append(done)
    assert done.returncode == 1
    lines = {
        Path(line.split()[1].rstrip(":")).parent.name: line.split()[0]
        for line in done.stdout.splitlines()[:-1]
    }
    assert lines == {
        "strong_but_leaky": "verified",
        "mallory": "INVALID",
        "markdown_answer": "unsigned",
    }
    assert "acme/alice@cccccccccccc" in done.stdout
    alone = grader("verify", str(root / "alice"), env=runs["env"])
    assert alone.returncode == 0 and "1 of 1 file(s) verified" in alone.stdout
    wrong = grader("verify", str(root / "alice"), env={"GRADER_SIGNING_KEY": OTHER_KEY})
    assert wrong.returncode == 1 and "another key" in wrong.stdout
    keyless = grader("verify", str(root / "alice"))
    assert keyless.returncode == 2 and "no key to verify with" in keyless.stderr
    runs["outputs"] += [alone, wrong, keyless]


def test_sign_refuses_to_launder_a_forged_result(runs: dict) -> None:
    before = runs["forged"].read_bytes()
    done = grader("sign", str(runs["forged"]), env=runs["env"])
    runs["outputs"].append(done)
    assert done.returncode == 1 and "refused" in done.stderr and "INVALID" in done.stderr
    assert runs["forged"].read_bytes() == before


def test_summary_marks_every_row_and_ranks_untrusted_ones_last(runs: dict) -> None:
    out = runs["root"] / "leaderboard"
    # Two assignments in one merge: their grades are listed together on purpose here.
    done = grader(
        "summary",
        str(runs["root"] / "runs"),
        "--mixed-settings",
        "--out",
        str(out),
        env=runs["env"],
    )
    runs["outputs"].append(done)
    assert done.returncode == 0, done.stderr
    rows = json.loads((out / "summary.json").read_text())["submissions"]
    assert [(r["name"], r["signature"]) for r in rows] == [
        ("strong_but_leaky", "verified"),
        ("markdown_answer", "unsigned"),
        ("mallory", "INVALID"),  # its forged 100 ranks below every trusted grade
    ]
    assert rows[0]["repository"] == "acme/alice" and rows[2]["repository"] is None
    # The merge is signed too, and every link leads to a page the summary rendered itself.
    assert grader("verify", str(out / "summary.json"), env=runs["env"]).returncode == 0
    index = (out / "index.html").read_text()
    assert "window.__planted" not in index
    for row in rows:
        page = (out / row["scorecard"]).resolve()
        assert page.is_relative_to(out.resolve() / "results")
        assert "__planted" not in page.read_text()
    invalid_page = (out / rows[2]["scorecard"]).read_text()
    assert 'id="signature-warning"' in invalid_page and "Invalid signature" in invalid_page
    assert "Unsigned result" in (out / rows[1]["scorecard"]).read_text()
    assert 'id="signature-warning"' not in (out / rows[0]["scorecard"]).read_text()


def test_summary_with_require_signed_merges_only_verified_results(runs: dict) -> None:
    out = runs["root"] / "trusted-only"
    done = grader(
        "summary",
        str(runs["root"] / "runs"),
        "--out",
        str(out),
        "--require-signed",
        "--mixed-settings",
        env=runs["env"],
    )
    runs["outputs"].append(done)
    assert done.returncode == 1
    assert "refused: INVALID" in done.stderr and "refused: unsigned" in done.stderr
    rows = json.loads((out / "summary.json").read_text())["submissions"]
    assert [r["name"] for r in rows] == ["strong_but_leaky"]


def test_report_puts_a_banner_on_pages_from_unverified_results(runs: dict, tmp_path: Path) -> None:
    for name, folder, banner in (
        ("alice", "strong_but_leaky", None),
        ("mallory", "mallory", "Invalid signature"),
        ("bob", "markdown_answer", "Unsigned result"),
    ):
        copy = tmp_path / name
        shutil.copytree(runs["root"] / "runs" / name / folder, copy)
        done = grader("report", str(copy / "result.json"), env=runs["env"])
        runs["outputs"].append(done)
        assert done.returncode == 0, done.stderr
        page = (copy / "scorecard.html").read_text()
        if banner is None:
            assert 'id="signature-warning"' not in page
        else:
            assert 'id="signature-warning"' in page and banner in page
    unchecked = grader("report", str(tmp_path / "alice" / "result.json"))
    assert "Signature not checked" in (tmp_path / "alice" / "scorecard.html").read_text()
    runs["outputs"].append(unchecked)


def test_ed25519_from_pem_files_on_the_command_line(runs: dict, tmp_path: Path) -> None:
    private = Ed25519PrivateKey.generate()
    key_file, pub_file = tmp_path / "grader.pem", tmp_path / "grader.pub.pem"
    key_file.write_bytes(
        private.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    pub_file.write_bytes(
        private.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    copy = tmp_path / "bob"
    shutil.copytree(runs["root"] / "runs" / "bob", copy)
    assert grader("sign", str(copy), "--ed25519-key-file", str(key_file)).returncode == 0
    verified = grader("verify", str(copy), "--public-key", str(pub_file))
    assert verified.returncode == 0 and "Ed25519 signature valid" in verified.stdout
    cannot = grader("sign", str(copy), "--public-key", str(pub_file))
    assert cannot.returncode == 2 and "no signing key" in cannot.stderr


def test_the_key_appears_in_no_report_and_no_output(runs: dict) -> None:
    """Runs last in this module: every file the commands above wrote, and everything they
    printed, is searched for the key."""
    assert len(runs["outputs"]) >= 8
    for done in runs["outputs"]:
        assert KEY not in done.stdout and KEY not in done.stderr
    files = [p for p in runs["root"].rglob("*") if p.is_file()]
    assert len(files) > 20
    for path in files:
        assert KEY.encode() not in path.read_bytes(), path
