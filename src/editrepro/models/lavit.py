""" LaViT: Less-Attention Vision Transformer

Paper: `You Only Need Less Attention at Each Stage in Vision Transformers` (CVPR 2024)
- https://arxiv.org/abs/2406.00427 (Zhang, Liu, Lin, He). No official code was published.

A reconstruction: only the abstract, figure captions and summaries of the paper could be read,
so every choice below is a named option whose default and evidence level (``DESIGN_CHOICES``, in
``editrepro.lavit_design``, printed in ``reports/lavit.md``) say how sure it is. Evidence: [paper] the paper's words;
[summary] third-party summaries of its equations; [extracted] numbers from a results database;
[inference] a design choice of this reproduction.

The pyramid is PVTv2's (timm ``pvt_v2``): four stages at strides 4/8/16/32, overlapping patch
embeddings, spatial-reduction attention (keys pooled to the same 7 x 7 grid in every stage at
224 px), depthwise-conv MLPs [inference: the published sizes sit just below PVTv2-b1/b2/b3's]. In
each stage [paper]:

- the first ``num_va`` layers are Vanilla-Attention (VA) layers, PVTv2 blocks that keep their
  attention scores;
- the rest are Less-Attention (LA) layers, which compute no ``q k^T``: ``A^l = W_Psi A^{l-1}
  W_Theta^T`` over the previous layer's scores, softmax again, and values from the layer's own
  input [summary];
- the first layer of every stage after the first adds the previous stage's last attention,
  downsampled to its grid, to its scores: residual attention downsampling [paper, Fig. 2];
- training adds the diagonality-preserving loss of every LA attention [paper]; ``forward_aux(x)``
  returns it beside the logits.

The defaults are the one design of a small, stated family (PVTv2's depths and widths; MLP ratio 8/8/4/4
or 4; five rules for which layers are VA; docs/lavit.md counts them all) that lands LaViT-S and -B
within 3% of the published parameters and 5% of the FLOPs: MLP ratio 4 in every stage (PVTv2-b1/b2/b3
with it cost 1.69 / 3.29 / 6.17 GMACs against LaViT's published 1.6 / 3.3 / 6.1) and LA layers in the
second half of stages 3 and 4, where the N x N query-side transform of the summary is affordable
(N = 4K and K). Nothing outside that family was adjusted. Tiny stays 15% above its published 10.9M
parameters (its FLOPs match); no design of the family reaches it, and ``reports/lavit.md`` says so.

Switches for ablations: ``num_va`` (all VA: the PVTv2 it modifies), ``attn_downsample``,
``la_query_mix``, ``la_shared_heads``, ``la_source``, ``dp_loss_form``.
"""
import math
from typing import Dict, List, Optional, Sequence, Tuple, Type, Union

import torch
from torch import nn
from timm.data import IMAGENET_DEFAULT_MEAN, IMAGENET_DEFAULT_STD
from timm.layers import LayerNorm, calculate_drop_path_rates, to_2tuple, to_ntuple, trunc_normal_
from timm.models import generate_default_cfgs, register_model
from timm.models._features import feature_take_indices
from timm.models._manipulate import checkpoint
from timm.models.pvt_v2 import Block as PvtBlock
from timm.models.pvt_v2 import OverlapPatchEmbed

from ..lavit_design import DESIGN_CHOICES, Choice  # re-exported (the design choices live torch-free there)
from .lavit_layers import DP_LOSS_FORMS, AttentionDownsample, LessAttention, VanillaAttention
from .tracing import fx_tracing
from .weights import build_variant

__all__ = ["LaViT", "VABlock", "LABlock", "LaViTStage", "DESIGN_CHOICES", "Choice", "default_num_va"]


def default_num_va(depths: Sequence[int]) -> Tuple[int, ...]:
    """VA layers per stage of the defaults: all of stages 1-2, the first half (rounded up) of the rest."""
    return tuple(d if i < 2 else math.ceil(d / 2) for i, d in enumerate(depths))


class VABlock(PvtBlock):
    """A PVTv2 block (timm's, same weights and names) whose attention can hand on its scores."""

    def __init__(self, dim: int, num_heads: int, mlp_ratio: float = 4.0, sr_ratio: int = 1, qkv_bias: bool = True,
                 proj_drop: float = 0.0, attn_drop: float = 0.0, drop_path: float = 0.0,
                 norm_layer: Type[nn.Module] = LayerNorm):
        super().__init__(dim, num_heads, mlp_ratio=mlp_ratio, sr_ratio=sr_ratio, qkv_bias=qkv_bias,
                         proj_drop=proj_drop, attn_drop=attn_drop, drop_path=drop_path, norm_layer=norm_layer)
        self.attn = VanillaAttention(dim, num_heads, sr_ratio, qkv_bias, attn_drop, proj_drop)

    def forward(self, x: torch.Tensor, feat_size: List[int], bias: Optional[torch.Tensor] = None,
                return_logits: bool = False) -> Tuple[torch.Tensor, Optional[torch.Tensor]]:
        out, logits = self.attn(self.norm1(x), feat_size, bias=bias, return_logits=return_logits)
        x = x + self.drop_path1(out)
        x = x + self.drop_path2(self.mlp(self.norm2(x), feat_size))
        return x, logits


class LABlock(PvtBlock):
    """A PVTv2 block with its attention replaced by Less-Attention (the MLP and norms as PVTv2's)."""

    def __init__(self, dim: int, num_heads: int, grid: Sequence[int], mlp_ratio: float = 4.0, sr_ratio: int = 1,
                 qkv_bias: bool = True, proj_drop: float = 0.0, attn_drop: float = 0.0, drop_path: float = 0.0,
                 norm_layer: Type[nn.Module] = LayerNorm, query_mix: str = "full", shared_heads: bool = True,
                 source: str = "logits"):
        super().__init__(dim, num_heads, mlp_ratio=mlp_ratio, sr_ratio=sr_ratio, qkv_bias=qkv_bias,
                         proj_drop=proj_drop, attn_drop=attn_drop, drop_path=drop_path, norm_layer=norm_layer)
        self.attn = LessAttention(dim, num_heads, sr_ratio, grid, query_mix=query_mix, shared_heads=shared_heads,
                                  source=source, qkv_bias=qkv_bias, attn_drop=attn_drop, proj_drop=proj_drop)

    def forward(self, x: torch.Tensor, feat_size: List[int], prev: torch.Tensor, dp_form: Optional[str] = None
                ) -> Tuple[torch.Tensor, torch.Tensor, Optional[torch.Tensor]]:
        out, logits, dp = self.attn(self.norm1(x), feat_size, prev, dp_form)
        x = x + self.drop_path1(out)
        x = x + self.drop_path2(self.mlp(self.norm2(x), feat_size))
        return x, logits, dp


class LaViTStage(nn.Module):
    """``num_va`` VA layers, then LA layers, on one grid; optionally fed the previous stage's attention.

    ``forward(x, prev_attn, dp_form)`` returns ``(x (B, C, H, W), scores, dp losses)``: the scores of
    its last layer when ``return_attn`` (the next stage downsamples them), else None.
    """

    def __init__(self, dim: int, dim_out: int, depth: int, num_va: int, grid: Sequence[int], downsample: bool,
                 num_heads: int, prev_heads: int, sr_ratio: int, mlp_ratio: float, attn_downsample: bool,
                 return_attn: bool, query_mix: str = "full", shared_heads: bool = True, source: str = "logits",
                 qkv_bias: bool = True, proj_drop: float = 0.0, attn_drop: float = 0.0,
                 drop_path: Union[Sequence[float], float] = 0.0, norm_layer: Type[nn.Module] = LayerNorm):
        super().__init__()
        if not 0 <= num_va <= depth:
            raise ValueError(f"num_va {num_va} must be between 0 and the stage's depth {depth}")
        if num_va == 0 and not attn_downsample:
            raise ValueError("a stage of LA layers only needs the previous stage's attention: "
                             "num_va 0 requires attn_downsample='conv' (and is not possible in the first stage)")
        self.grad_checkpointing = False
        self.num_va = num_va
        self.return_attn = return_attn
        self.downsample = OverlapPatchEmbed(patch_size=3, stride=2, in_chans=dim, embed_dim=dim_out) \
            if downsample else None
        self.attn_downsample = AttentionDownsample(prev_heads, num_heads) if attn_downsample else None
        rates = list(drop_path) if isinstance(drop_path, (list, tuple)) else [drop_path] * depth
        common = dict(mlp_ratio=mlp_ratio, sr_ratio=sr_ratio, qkv_bias=qkv_bias, proj_drop=proj_drop,
                      attn_drop=attn_drop, norm_layer=norm_layer)
        self.blocks = nn.ModuleList(
            [VABlock(dim_out, num_heads, drop_path=rates[i], **common) for i in range(num_va)]
            + [LABlock(dim_out, num_heads, grid, drop_path=rates[i], query_mix=query_mix, shared_heads=shared_heads,
                       source=source, **common) for i in range(num_va, depth)])
        self.norm = norm_layer(dim_out)

    def forward(self, x: torch.Tensor, prev_attn: Optional[torch.Tensor] = None, dp_form: Optional[str] = None
                ) -> Tuple[torch.Tensor, Optional[torch.Tensor], List[torch.Tensor]]:
        bias = None
        if self.downsample is not None:
            if self.attn_downsample is not None and prev_attn is not None:
                bias = self.attn_downsample(prev_attn, x.shape[-2:])           # B, h, N, K
            x = self.downsample(x)                                              # B, C, H', W' -> B, H, W, C
        B, H, W, C = x.shape
        feat_size = (H, W)
        x = x.reshape(B, -1, C)
        attn, dps = bias, []
        use_checkpoint = self.grad_checkpointing and torch.is_grad_enabled() and not torch.jit.is_scripting()
        for i, blk in enumerate(self.blocks):
            if i < self.num_va:
                keep = i == self.num_va - 1 and (len(self.blocks) > self.num_va or self.return_attn)
                first_bias = bias if i == 0 else None
                x, logits = checkpoint(blk, x, feat_size, first_bias, keep) if use_checkpoint \
                    else blk(x, feat_size, first_bias, keep)
                if keep:
                    attn = logits
            else:
                x, attn, dp = checkpoint(blk, x, feat_size, attn, dp_form) if use_checkpoint \
                    else blk(x, feat_size, attn, dp_form)
                if dp is not None:
                    dps.append(dp)
        x = self.norm(x)
        x = x.reshape(B, H, W, -1).permute(0, 3, 1, 2).contiguous()
        return x, (attn if self.return_attn else None), dps


class LaViT(nn.Module):
    """A four-stage LaViT pyramid (defaults: LaViT-S). See the module docstring for the evidence.

    Args:
        img_size: The input size it is built for (the LA transforms are maps over its grids); a
            multiple of 32.
        dynamic_img_size: Accept inputs of any size that is a multiple of 32 (timm's flag; dense
            prediction backbones set it): the LA transforms act as their bicubic resampling to the
            input's grids (``AttentionTransform``). Off: any other size is an error.
        depths, embed_dims, num_heads, sr_ratios, mlp_ratios: Per stage, as PVTv2's.
        num_va: VA layers at the start of each stage (the rest are LA); default ``default_num_va``.
            ``num_va=depths`` is the all-VA PVTv2 pyramid it modifies.
        la_query_mix: ``"full"`` (N x N ``W_Psi``) or ``"none"`` (keys only), for all stages or per stage.
        la_shared_heads: One pair of transforms for all heads of a layer, or one per head.
        la_source: ``"logits"`` or ``"probs"``: which form of the previous attention LA transforms.
        attn_downsample: ``"conv"`` (residual attention downsampling between stages) or ``"none"``.
        dp_loss_form: The diagonality-preserving loss ``forward_aux`` computes by default
            (``DP_LOSS_FORMS``); training passes the recipe's form and scales it by ``dp_loss_weight``.
    """

    def __init__(
            self,
            img_size: Union[int, Tuple[int, int]] = 224,
            dynamic_img_size: bool = False,
            in_chans: int = 3,
            num_classes: int = 1000,
            global_pool: str = "avg",
            depths: Sequence[int] = (3, 4, 6, 3),
            embed_dims: Sequence[int] = (64, 128, 320, 512),
            num_heads: Union[int, Sequence[int]] = (1, 2, 5, 8),
            sr_ratios: Union[int, Sequence[int]] = (8, 4, 2, 1),
            mlp_ratios: Union[float, Sequence[float]] = (4.0, 4.0, 4.0, 4.0),
            num_va: Optional[Sequence[int]] = None,
            la_query_mix: Union[str, Sequence[str]] = "full",
            la_shared_heads: bool = True,
            la_source: str = "logits",
            attn_downsample: str = "conv",
            dp_loss_form: str = "half_diagonal",
            qkv_bias: bool = True,
            drop_rate: float = 0.0,
            proj_drop_rate: float = 0.0,
            attn_drop_rate: float = 0.0,
            drop_path_rate: float = 0.0,
            norm_layer: Type[nn.Module] = LayerNorm,
    ):
        super().__init__()
        depths = tuple(int(d) for d in depths)
        stages = len(depths)
        embed_dims = tuple(int(d) for d in embed_dims)
        num_heads, sr_ratios = to_ntuple(stages)(num_heads), to_ntuple(stages)(sr_ratios)
        mlp_ratios, la_query_mix = to_ntuple(stages)(mlp_ratios), to_ntuple(stages)(la_query_mix)
        num_va = tuple(int(n) for n in (num_va if num_va is not None else default_num_va(depths)))
        if not len(embed_dims) == len(num_heads) == len(sr_ratios) == len(mlp_ratios) == len(num_va) == stages:
            raise ValueError(f"every per-stage argument needs {stages} values (depths {depths}): embed_dims "
                             f"{embed_dims}, num_heads {num_heads}, sr_ratios {sr_ratios}, mlp_ratios {mlp_ratios}, "
                             f"num_va {num_va}")
        if attn_downsample not in ("conv", "none"):
            raise ValueError(f"attn_downsample must be 'conv' or 'none', got {attn_downsample!r}")
        if dp_loss_form not in DP_LOSS_FORMS:
            raise ValueError(f"dp_loss_form must be one of {DP_LOSS_FORMS}, got {dp_loss_form!r}")
        if num_va[0] < 1:
            raise ValueError("the first stage needs a VA layer (num_va[0] >= 1): there is no earlier attention")
        self.img_size = to_2tuple(img_size)
        self.dynamic_img_size = bool(dynamic_img_size)
        self.sr_ratios = sr_ratios
        self.grids = self.stage_grids(self.img_size, sr_ratios, stages)
        self.num_classes = num_classes
        self.in_chans = in_chans
        if global_pool not in ("avg", ""):
            raise ValueError(f"global_pool must be 'avg' or '', got {global_pool!r}")
        self.global_pool = global_pool
        self.depths, self.num_va = depths, num_va
        self.dp_loss_form = dp_loss_form
        self.attn_downsample = attn_downsample
        self.feature_info = []

        self.patch_embed = OverlapPatchEmbed(patch_size=7, stride=4, in_chans=in_chans, embed_dim=embed_dims[0])
        dpr = calculate_drop_path_rates(drop_path_rate, list(depths), stagewise=True)
        residual = attn_downsample == "conv"
        self.stages = nn.Sequential(*[
            LaViTStage(
                dim=embed_dims[max(i - 1, 0)], dim_out=embed_dims[i], depth=depths[i], num_va=num_va[i],
                grid=self.grids[i], downsample=i > 0, num_heads=num_heads[i], prev_heads=num_heads[max(i - 1, 0)],
                sr_ratio=sr_ratios[i], mlp_ratio=mlp_ratios[i], attn_downsample=residual and i > 0,
                return_attn=residual and i < stages - 1, query_mix=la_query_mix[i], shared_heads=la_shared_heads,
                source=la_source, qkv_bias=qkv_bias, proj_drop=proj_drop_rate, attn_drop=attn_drop_rate,
                drop_path=dpr[i], norm_layer=norm_layer)
            for i in range(stages)])
        for i in range(stages):
            self.feature_info.append(dict(num_chs=embed_dims[i], reduction=4 * 2 ** i, module=f"stages.{i}"))
        self.num_features = self.head_hidden_size = embed_dims[-1]
        self.head_drop = nn.Dropout(drop_rate)
        self.head = nn.Linear(embed_dims[-1], num_classes) if num_classes > 0 else nn.Identity()
        self.apply(self._init_weights)
        for m in self.modules():
            if isinstance(m, AttentionDownsample):
                m.init_weights()

    @staticmethod
    def stage_grids(img_size: Tuple[int, int], sr_ratios: Sequence[int], stages: int) -> List[Tuple[int, int]]:
        """Token grids of the stages at ``img_size``; every stage's keys must form the same grid."""
        H, W = img_size
        stride = 4 * 2 ** (stages - 1)
        if H <= 0 or W <= 0 or H % stride or W % stride:
            sizes = " or ".join(str(s) for s in sorted({max(stride, H // stride * stride), (H // stride + 1) * stride}))
            raise ValueError(f"LaViT's pyramid divides its input by {stride}: img_size {H}x{W} is not a multiple; "
                             f"use {sizes}")
        grids = [(H // (4 * 2 ** i), W // (4 * 2 ** i)) for i in range(stages)]
        keys = {(h // sr, w // sr) for (h, w), sr in zip(grids, sr_ratios)}
        if any(h % sr or w % sr for (h, w), sr in zip(grids, sr_ratios)) or len(keys) != 1:
            raise ValueError(f"sr_ratios {tuple(sr_ratios)} do not reduce the stage grids {grids} to one key grid")
        return grids

    def _init_weights(self, m: nn.Module) -> None:
        # PVTv2's initialisation (the attention transforms keep their identity start)
        if isinstance(m, nn.Linear):
            trunc_normal_(m.weight, std=0.02)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.Conv2d):
            fan_out = m.kernel_size[0] * m.kernel_size[1] * m.out_channels // m.groups
            m.weight.data.normal_(0, math.sqrt(2.0 / fan_out))
            if m.bias is not None:
                m.bias.data.zero_()

    @torch.jit.ignore
    def no_weight_decay(self):
        return set()

    @torch.jit.ignore
    def group_matcher(self, coarse: bool = False):
        return dict(stem=r"^patch_embed", blocks=r"^stages\.(\d+)")

    @torch.jit.ignore
    def set_grad_checkpointing(self, enable: bool = True) -> None:
        for s in self.stages:
            s.grad_checkpointing = enable

    def get_classifier(self) -> nn.Module:
        return self.head

    def reset_classifier(self, num_classes: int, global_pool: Optional[str] = None) -> None:
        self.num_classes = num_classes
        if global_pool is not None:
            if global_pool not in ("avg", ""):
                raise ValueError(f"global_pool must be 'avg' or '', got {global_pool!r}")
            self.global_pool = global_pool
        self.head = nn.Linear(self.num_features, num_classes) if num_classes > 0 else nn.Identity()

    def check_input(self, x: torch.Tensor) -> None:
        """Raise ``ValueError`` unless ``x`` is a batch of the size the model was built for (with
        ``dynamic_img_size``: of any size its pyramid divides)."""
        if fx_tracing() or torch.jit.is_scripting():
            return   # symbolic sizes: checked when the traced graph runs
        shape = tuple(x.shape)
        if len(shape) == 4 and shape[1] == self.in_chans:
            if shape[-2:] == self.img_size:
                return
            if self.dynamic_img_size:
                self.stage_grids(shape[-2:], self.sr_ratios, len(self.stages))   # names the nearest sizes
                return
        raise ValueError(
            f"LaViT expects images of shape (B, {self.in_chans}, {self.img_size[0]}, {self.img_size[1]}), got "
            f"{shape}: its Less-Attention transforms are maps over that size's token grids; create the model "
            f"with img_size={shape[-2:] if len(shape) == 4 else '...'} (a multiple of 32), with "
            f"dynamic_img_size=True (dense prediction), or resize the input")

    def _forward_stages(self, x: torch.Tensor, dp_form: Optional[str] = None, stages: Optional[int] = None,
                        take: Sequence[int] = ()):
        self.check_input(x)
        x = self.patch_embed(x)                          # B, H, W, C (later stages downsample B, C, H, W)
        attn, dps, taken = None, [], []
        for i, stage in enumerate(self.stages if stages is None else self.stages[:stages]):
            x, attn, stage_dps = stage(x, attn, dp_form)
            dps += stage_dps
            if i in take:
                taken.append(x)
        return x, dps, taken

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        return self._forward_stages(x)[0]

    def forward_head(self, x: torch.Tensor, pre_logits: bool = False) -> torch.Tensor:
        if self.global_pool:
            x = x.mean(dim=(-1, -2))
        x = self.head_drop(x)
        return x if pre_logits else self.head(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.forward_head(self.forward_features(x))

    def forward_aux(self, x: torch.Tensor, dp_form: Optional[str] = None
                    ) -> Tuple[torch.Tensor, Dict[str, torch.Tensor]]:
        """``(logits, {"dp_loss": ...})``: the diagonality-preserving loss (of form ``dp_form``, default
        the model's ``dp_loss_form``) averaged over the LA layers; zero without LA layers."""
        feats, dps, _ = self._forward_stages(x, dp_form=dp_form or self.dp_loss_form)
        dp = torch.stack(dps).mean() if dps else feats.new_zeros(())
        return self.forward_head(feats), {"dp_loss": dp}

    def forward_intermediates(
            self,
            x: torch.Tensor,
            indices: Optional[Union[int, List[int]]] = None,
            norm: bool = False,
            stop_early: bool = False,
            output_fmt: str = "NCHW",
            intermediates_only: bool = False,
    ) -> Union[List[torch.Tensor], Tuple[torch.Tensor, List[torch.Tensor]]]:
        """timm's ``forward_intermediates``: the stages' outputs (B, C, H, W), each after its norm."""
        if output_fmt != "NCHW":
            raise ValueError(f"LaViT's intermediates are NCHW feature maps, got output_fmt={output_fmt!r}")
        take_indices, max_index = feature_take_indices(len(self.stages), indices)
        x, _, intermediates = self._forward_stages(x, stages=max_index + 1 if stop_early else None,
                                                   take=take_indices)
        if intermediates_only:
            return intermediates
        return x, intermediates

    def prune_intermediate_layers(self, indices: Union[int, List[int]] = 1, prune_norm: bool = False,
                                  prune_head: bool = True):
        take_indices, max_index = feature_take_indices(len(self.stages), indices)
        prune_end = max_index < len(self.stages) - 1
        self.stages = self.stages[:max_index + 1]
        if prune_end:
            self.stages[-1].return_attn = False
            self.num_features = self.head_hidden_size = self.feature_info[max_index]["num_chs"]
        if prune_head or prune_end:
            self.reset_classifier(0, "")
        return take_indices

    @property
    def la_layers(self) -> int:
        return sum(d - v for d, v in zip(self.depths, self.num_va))


def _cfg(**kwargs) -> Dict:
    return {
        "url": "", "num_classes": 1000, "input_size": (3, 224, 224), "pool_size": (7, 7),
        "crop_pct": 0.875, "interpolation": "bicubic", "fixed_input_size": True,
        "mean": IMAGENET_DEFAULT_MEAN, "std": IMAGENET_DEFAULT_STD,
        "first_conv": "patch_embed.proj", "classifier": "head", "license": "apache-2.0",
        **kwargs,
    }


default_cfgs = generate_default_cfgs({
    f"lavit_{size}_{res}": _cfg(input_size=(3, res, res), pool_size=(res // 32, res // 32))
    for size in ("tiny", "small", "base") for res in (224, 384)
})


def _create_lavit(variant: str, pretrained: bool = False, **kwargs) -> LaViT:
    return build_variant(LaViT, variant, pretrained, default_out_indices=(0, 1, 2, 3), **kwargs)   # all 4 stages


@register_model
def lavit_tiny_224(pretrained: bool = False, **kwargs) -> LaViT:
    """LaViT-T @ 224: PVTv2-b1 depths, LA layers in the second half of stages 3 and 4."""
    model_args = dict(depths=(2, 2, 2, 2))
    return _create_lavit("lavit_tiny_224", pretrained=pretrained, **dict(model_args, **kwargs))


@register_model
def lavit_tiny_384(pretrained: bool = False, **kwargs) -> LaViT:
    """LaViT-T @ 384."""
    model_args = dict(img_size=384, depths=(2, 2, 2, 2))
    return _create_lavit("lavit_tiny_384", pretrained=pretrained, **dict(model_args, **kwargs))


@register_model
def lavit_small_224(pretrained: bool = False, **kwargs) -> LaViT:
    """LaViT-S @ 224: PVTv2-b2 depths."""
    model_args = dict(depths=(3, 4, 6, 3))
    return _create_lavit("lavit_small_224", pretrained=pretrained, **dict(model_args, **kwargs))


@register_model
def lavit_small_384(pretrained: bool = False, **kwargs) -> LaViT:
    """LaViT-S @ 384."""
    model_args = dict(img_size=384, depths=(3, 4, 6, 3))
    return _create_lavit("lavit_small_384", pretrained=pretrained, **dict(model_args, **kwargs))


@register_model
def lavit_base_224(pretrained: bool = False, **kwargs) -> LaViT:
    """LaViT-B @ 224: PVTv2-b3 depths."""
    model_args = dict(depths=(3, 4, 18, 3))
    return _create_lavit("lavit_base_224", pretrained=pretrained, **dict(model_args, **kwargs))


@register_model
def lavit_base_384(pretrained: bool = False, **kwargs) -> LaViT:
    """LaViT-B @ 384."""
    model_args = dict(img_size=384, depths=(3, 4, 18, 3))
    return _create_lavit("lavit_base_384", pretrained=pretrained, **dict(model_args, **kwargs))
