"""A user's typo ends in one clear line naming the value and its closest valid names, exit status 2."""
import pytest

from editrepro.cli import main


@pytest.mark.parametrize("flags,message", [
    (["--model", "edit_tiny_patch16_22"], "unknown model 'edit_tiny_patch16_22'. Did you mean: edit_tiny_patch16_224"),
    (["--dataset", "imagenet"], "unknown dataset 'imagenet'. Did you mean: imagenet1k, imagenet21k?"),
    (["--recipe", "config/recipes/in1k_pretrian.yaml"], "Did you mean: in1k_pretrain.yaml"),
])
def test_typos_are_named_with_close_matches(flags, message, capsys, tmp_path, monkeypatch):
    from editrepro.provenance import project_root

    monkeypatch.chdir(project_root())
    args = {"--recipe": "config/recipes/in1k_pretrain.yaml", "--model": "edit_tiny_patch16_224",
            "--dataset": "imagenet1k", "--data-root": str(tmp_path), "--output": str(tmp_path / "run")}
    args.update(dict(zip(flags[::2], flags[1::2])))
    assert main(["train", *[x for kv in args.items() for x in kv]]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err and err.startswith("editrepro train: error:")
    assert not (tmp_path / "run").exists()                          # nothing written for a bad command
