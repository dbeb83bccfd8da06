"""The recorded commit is ``-dirty`` only when a file the commit holds changed, not for untracked output."""
import subprocess

from editrepro.provenance import git_commit


def _git(repo, *args) -> str:
    return subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@t", *args], cwd=repo, check=True,
                          capture_output=True, text=True).stdout.strip()


def test_untracked_files_leave_the_commit_clean_and_a_changed_tracked_file_marks_it(tmp_path):
    _git(tmp_path, "init", "-q")
    (tmp_path / "train.py").write_text("lr = 1\n")
    _git(tmp_path, "add", "train.py")
    _git(tmp_path, "commit", "-q", "-m", "first")
    head = _git(tmp_path, "rev-parse", "HEAD")
    commit = git_commit.__wrapped__                          # uncached: the tree changes between calls

    (tmp_path / "runs" / "try").mkdir(parents=True)          # the README's own example output, and a note
    (tmp_path / "runs" / "try" / "metrics.json").write_text("{}")
    (tmp_path / "notes.txt").write_text("x")
    assert commit(tmp_path) == head

    (tmp_path / "train.py").write_text("lr = 2\n")
    assert commit(tmp_path) == f"{head}-dirty"
