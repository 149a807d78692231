"""The git commit recorded on every run and version: a plain clone, a linked worktree, packed refs."""

from __future__ import annotations

from pathlib import Path

from training.tracking import REPO_ROOT, git_commit

SHA = "0123456789abcdef0123456789abcdef01234567"


def test_plain_clone_and_packed_refs(tmp_path: Path) -> None:
    git = tmp_path / ".git"
    (git / "refs" / "heads").mkdir(parents=True)
    (git / "HEAD").write_text("ref: refs/heads/main\n")
    (git / "refs" / "heads" / "main").write_text(SHA + "\n")
    assert git_commit(tmp_path) == SHA
    (git / "refs" / "heads" / "main").unlink()
    (git / "packed-refs").write_text(f"# pack-refs\n{SHA} refs/heads/main\n")
    assert git_commit(tmp_path) == SHA


def test_linked_worktree(tmp_path: Path) -> None:
    common = tmp_path / "main" / ".git"
    wt_git = common / "worktrees" / "wt"
    wt_git.mkdir(parents=True)
    (common / "refs" / "heads").mkdir(parents=True)
    (common / "refs" / "heads" / "topic").write_text(SHA + "\n")
    (wt_git / "HEAD").write_text("ref: refs/heads/topic\n")
    (wt_git / "commondir").write_text("../..\n")
    checkout = tmp_path / "wt"
    checkout.mkdir()
    (checkout / ".git").write_text(f"gitdir: {wt_git}\n")
    assert git_commit(checkout) == SHA


def test_unknown_without_git(tmp_path: Path) -> None:
    assert git_commit(tmp_path) == "unknown"
    assert git_commit(REPO_ROOT) != "unknown" or not (REPO_ROOT / ".git").exists()
