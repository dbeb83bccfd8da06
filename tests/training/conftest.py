import pytest


@pytest.fixture(autouse=True)
def _tracking_store(tmp_path, monkeypatch):
    """Every engine test logs to its own SQLite store, never to the project's."""
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'mlflow.db'}")
    monkeypatch.chdir(__import__("editrepro.provenance", fromlist=["project_root"]).project_root())
