"""A 224 checkpoint in a 384 model: bicubic, no antialias, like the DeiT III reference."""
import pytest
import timm
import torch
import torch.nn.functional as F

from editrepro.models import load_pretrained


@pytest.fixture
def checkpoint_224(tmp_path):
    model = timm.create_model("edit_tiny_patch16_224", num_classes=10)
    path = tmp_path / "edit_tiny_224.pth"
    torch.save({"model": model.state_dict(), "config": {"epochs": 1}}, path)
    return model, path


def reference_resample(pos_embed: torch.Tensor, old: int, new: int) -> torch.Tensor:
    D = pos_embed.shape[-1]
    grid = pos_embed.reshape(1, old, old, D).permute(0, 3, 1, 2)
    grid = F.interpolate(grid, size=(new, new), mode="bicubic", align_corners=False)
    return grid.permute(0, 2, 3, 1).reshape(1, new * new, D)


def test_timm_create_model_loads_a_224_checkpoint_into_384(checkpoint_224):
    src, path = checkpoint_224
    model = timm.create_model("edit_tiny_patch16_384", num_classes=10, pretrained=True,
                              pretrained_cfg_overlay=dict(file=str(path), num_classes=10))
    assert model.pos_embed.shape == (1, 24 * 24, 192)
    torch.testing.assert_close(model.pos_embed, reference_resample(src.pos_embed.detach(), 14, 24))
    for name, tensor in src.state_dict().items():
        if name != "pos_embed":
            torch.testing.assert_close(model.state_dict()[name], tensor, msg=name)
    assert model.eval()(torch.randn(1, 3, 384, 384)).shape == (1, 10)


def test_load_pretrained_drops_a_head_of_another_label_space(checkpoint_224):
    src, path = checkpoint_224
    model = timm.create_model("edit_tiny_patch16_384", num_classes=3)
    head_before = model.head.weight.clone()
    load_pretrained(model, path)
    torch.testing.assert_close(model.head.weight, head_before)  # kept its own head
    torch.testing.assert_close(model.blocks[3].mlp.fc1.weight, src.blocks[3].mlp.fc1.weight)
    torch.testing.assert_close(model.decoder.kv.weight, src.decoder.kv.weight)


def test_load_pretrained_is_strict_about_everything_else(checkpoint_224, tmp_path):
    _, path = checkpoint_224
    model = timm.create_model("deit3_ref_tiny_patch16_224", num_classes=10)
    with pytest.raises(RuntimeError, match="unexpected.*decoder.kv.weight"):
        load_pretrained(model, path)
    with pytest.raises(FileNotFoundError, match="missing.pth"):
        load_pretrained(model, tmp_path / "missing.pth")


def test_ddp_and_compile_prefixes_are_stripped(checkpoint_224):
    src, _ = checkpoint_224
    wrapped = {f"module._orig_mod.{k}": v for k, v in src.state_dict().items()}
    model = timm.create_model("edit_tiny_patch16_224", num_classes=10)
    load_pretrained(model, {"model": wrapped})
    torch.testing.assert_close(model.pos_embed, src.pos_embed)


def test_a_backbone_without_classifier_takes_everything_but_the_head(checkpoint_224):
    src, path = checkpoint_224
    backbone = timm.create_model("edit_tiny_patch16_224", num_classes=0, img_size=64)
    load_pretrained(backbone, path)
    torch.testing.assert_close(backbone.decoder.kv.weight, src.decoder.kv.weight)
    assert backbone.pos_embed.shape == (1, 16, 192)
