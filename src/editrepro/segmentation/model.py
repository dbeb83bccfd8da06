""" Segmenter: Mask Transformer decoder over a ViT backbone's patch tokens

Paper: `Segmenter: Transformer for Semantic Segmentation` - https://arxiv.org/abs/2105.05633
(the reference is rstrudel/segmenter; docs/reference.md section 3 lists what it fixes).

The decoder projects the backbone's last-layer patch tokens to ``d_model`` (the encoder's
width), appends ``n_cls`` learned class embeddings, runs two pre-norm transformer blocks
(heads = d_model // 64, MLP 4x, dropout 0.1) and a final norm; masks are the scalar
products of L2-normalised projected patches and class embeddings, LayerNorm-ed over the
classes, on the 1/16 grid, upsampled bilinearly to the input. Any backbone of this package
works: EDIT's [CLS] state and DeiT III's class token are dropped (``num_prefix_tokens``).
"""
from typing import Any, Dict, Optional

import timm
import torch
import torch.nn.functional as F
from torch import nn
from timm.layers import trunc_normal_
from timm.models.vision_transformer import Block

__all__ = ["MaskTransformer", "Segmenter", "create_segmenter", "segmenter_params"]


class MaskTransformer(nn.Module):
    """Segmenter's decoder. Args: encoder width, classes, blocks, heads (default width // 64), dropout."""

    def __init__(self, d_encoder: int, n_cls: int, n_layers: int = 2, d_model: Optional[int] = None,
                 n_heads: Optional[int] = None, mlp_ratio: float = 4.0, dropout: float = 0.1,
                 drop_path_rate: float = 0.0):
        super().__init__()
        d_model = d_model or d_encoder
        self.n_cls = n_cls
        self.scale = d_model ** -0.5
        self.proj_dec = nn.Linear(d_encoder, d_model)
        self.cls_emb = nn.Parameter(torch.zeros(1, n_cls, d_model))
        rates = [drop_path_rate * i / max(n_layers - 1, 1) for i in range(n_layers)]
        self.blocks = nn.ModuleList([
            Block(d_model, n_heads or max(1, d_model // 64), mlp_ratio=mlp_ratio, qkv_bias=True, proj_drop=dropout,
                  drop_path=rate, norm_layer=nn.LayerNorm) for rate in rates])
        self.proj_patch = nn.Parameter(self.scale * torch.randn(d_model, d_model))
        self.proj_classes = nn.Parameter(self.scale * torch.randn(d_model, d_model))
        self.decoder_norm = nn.LayerNorm(d_model)
        self.mask_norm = nn.LayerNorm(n_cls)
        self.apply(self._init_weights)
        trunc_normal_(self.cls_emb, std=0.02)

    @staticmethod
    def _init_weights(m: nn.Module) -> None:
        if isinstance(m, nn.Linear):
            trunc_normal_(m.weight, std=0.02)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.LayerNorm):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)

    def forward(self, patches: torch.Tensor, grid: tuple) -> torch.Tensor:
        """``patches`` (B, N, d_encoder) on a ``grid`` of (gh, gw) -> class masks (B, n_cls, gh, gw)."""
        x = self.proj_dec(patches)
        x = torch.cat([x, self.cls_emb.expand(x.shape[0], -1, -1)], dim=1)
        for block in self.blocks:
            x = block(x)
        x = self.decoder_norm(x)
        patch_feat, cls_feat = x[:, :-self.n_cls], x[:, -self.n_cls:]
        patch_feat = F.normalize(patch_feat @ self.proj_patch, dim=-1)
        cls_feat = F.normalize(cls_feat @ self.proj_classes, dim=-1)
        masks = self.mask_norm(patch_feat @ cls_feat.transpose(1, 2))               # B, N, n_cls
        B, N, C = masks.shape
        return masks.transpose(1, 2).reshape(B, C, grid[0], grid[1])


class Segmenter(nn.Module):
    """A backbone's last-layer patch tokens -> Mask Transformer -> per-pixel class logits."""

    def __init__(self, backbone: nn.Module, decoder: MaskTransformer):
        super().__init__()
        self.backbone = backbone
        self.decoder = decoder
        self.num_classes = decoder.n_cls
        self.patch_size = backbone.patch_embed.patch_size
        self.img_size = tuple(backbone.patch_embed.img_size)

    def no_weight_decay(self):
        return {f"backbone.{n}" for n in self.backbone.no_weight_decay()} | {"decoder.cls_emb"}

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        H, W = images.shape[-2:]
        tokens = self.backbone.forward_features(images)                              # B, prefix + N, D
        patches = tokens[:, self.backbone.num_prefix_tokens:]
        grid = (H // self.patch_size[0], W // self.patch_size[1])
        masks = self.decoder(patches, grid)
        return F.interpolate(masks, size=(H, W), mode="bilinear", align_corners=False)


def create_segmenter(backbone: str, num_classes: int, img_size: int, pretrained: Optional[str] = None,
                     decoder_layers: int = 2, dropout: float = 0.1, drop_path_rate: float = 0.1,
                     backbone_kwargs: Optional[Dict[str, Any]] = None) -> Segmenter:
    """Segmenter on a registered backbone at ``img_size`` (the crop), optionally from an ImageNet checkpoint.

    The checkpoint's position embeddings are resampled to the crop's grid (bicubic, no
    antialias) and its classifier head is dropped.
    """
    from ..models import load_pretrained

    net = timm.create_model(backbone, num_classes=0, img_size=img_size, drop_path_rate=drop_path_rate,
                            **(backbone_kwargs or {}))
    if pretrained:
        load_pretrained(net, pretrained)
    decoder = MaskTransformer(net.embed_dim, num_classes, n_layers=decoder_layers, dropout=dropout)
    return Segmenter(net, decoder)


def segmenter_params(backbone: str, num_classes: int = 150, img_size: int = 512) -> int:
    """Parameters of Segmenter on ``backbone`` at the paper's size (ADE20K: 150 classes, 512 crops), on meta."""
    from ..models.complexity import count_params

    with torch.device("meta"):
        return count_params(create_segmenter(backbone, num_classes, img_size, drop_path_rate=0.0))
