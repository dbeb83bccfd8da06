""" Semantic FPN and UperNet decode heads over a four-level pyramid backbone, as mmsegmentation builds them

Papers: `Panoptic Feature Pyramid Networks` (Kirillov et al.) - https://arxiv.org/abs/1901.02446 and
`Unified Perceptual Parsing for Scene Understanding` (Xiao et al.) - https://arxiv.org/abs/1807.10221
(the reference is mmsegmentation: ``necks/fpn.py``, ``decode_heads/{fpn_head,uper_head,psp_head,fcn_head}.py``
and ``decode_head.py``, with the ``fpn_r50.py`` / ``upernet_r50.py`` base configs that PVT / PVTv2 and
LaViT train on ADE20K).

The backbone is any ``nn.Module`` with ``channels`` and ``strides`` (four levels, strides 4, 8, 16,
32; PVTv2-b2 / LaViT: channels 64, 128, 320, 512) whose ``forward(x)`` gives the four NCHW maps.

* ``SemanticFPNHead``: mmseg's ``FPN`` neck (1x1 lateral and 3x3 output convs with bias, no norm,
  no activation, nearest top-down upsampling: torchvision's ``FeaturePyramidNetwork`` without extra
  blocks) to ``fpn_channels`` = 256, then ``FPNHead`` with ``channels`` = 128: level i (stride
  4 * 2^i) goes through max(1, i) blocks of 3x3 conv-norm-ReLU, each block but level 0's followed by
  a x2 bilinear upsample, so that all reach stride 4; their sum -> dropout -> 1x1 classifier.
* ``UperNetHead``: mmseg's ``UPerHead`` (``channels`` = 512, ``pool_scales`` = (1, 2, 3, 6)): a
  pyramid pooling module on the last level (adaptive average pool to each scale, 1x1
  conv-norm-ReLU, bilinear upsample back, concatenated with the input, 3x3 conv-norm-ReLU
  bottleneck), 1x1 conv-norm-ReLU laterals on the other levels, top-down addition with bilinear
  upsampling, 3x3 conv-norm-ReLU output convs on levels 0-2, every level upsampled to stride 4 and
  concatenated, a 3x3 conv-norm-ReLU fusion, dropout, 1x1 classifier.
* ``FCNAuxHead``: the auxiliary ``FCNHead`` of the UperNet configs on the stride-16 level
  (``in_index`` = 2, ``channels`` = 256, one 3x3 conv-norm-ReLU, no input concat, dropout, 1x1
  classifier). The configs weight its loss by 0.4; that is the training's business, not this head's.

Every bilinear resize uses ``align_corners=False``; dropout is mmseg's ``nn.Dropout2d(0.1)`` (whole
channels). ``norm_layer`` (default ``nn.BatchNorm2d``) is any ``C -> nn.Module`` callable, ``None``
for none (the convs then get a bias, as mmseg's ``bias='auto'``); the configs use SyncBN on
multiple GPUs, which the trainer gets with ``nn.SyncBatchNorm.convert_sync_batchnorm``. With batch
norm, the pool-scale-1 branch of the PPM sees one value per channel and sample, so UperNet needs more
than one sample per (Sync)BN group in training, as mmseg does.

Initialisation follows mmseg: conv-norm-ReLU convs kaiming normal (fan_out, ReLU gain; mmcv's
``ConvModule.init_weights``) with norms at weight 1 / bias 0; the FPN neck's convs Xavier uniform
(its ``init_cfg``) with zero bias; every classifier ``normal(std=0.01)`` with zero bias.
"""
from collections import OrderedDict
from typing import Callable, Dict, Optional, Sequence, Tuple, Union

import torch
import torch.nn.functional as F
from torch import nn
from torchvision.ops import FeaturePyramidNetwork
from torchvision.ops.misc import Conv2dNormActivation

__all__ = ["SemanticFPNHead", "UperNetHead", "FCNAuxHead", "DenseSegmenter", "build_head", "HEADS"]

NormLayer = Optional[Callable[[int], nn.Module]]
HEADS = ("semantic_fpn", "upernet")


def _conv_norm_relu(in_channels: int, out_channels: int, kernel_size: int, norm_layer: NormLayer) -> nn.Module:
    """mmcv's ``ConvModule`` (conv, norm, ReLU; bias only without a norm), initialised as it is."""
    block = Conv2dNormActivation(in_channels, out_channels, kernel_size, padding=kernel_size // 2,
                                 norm_layer=norm_layer, activation_layer=nn.ReLU)
    for m in block.modules():
        if isinstance(m, nn.Conv2d):
            nn.init.kaiming_normal_(m.weight, a=0, mode="fan_out", nonlinearity="relu")
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif getattr(m, "weight", None) is not None and getattr(m, "bias", None) is not None:
            nn.init.ones_(m.weight)                                                 # the norm
            nn.init.zeros_(m.bias)
    return block


def _classifier(channels: int, num_classes: int) -> nn.Conv2d:
    """mmseg's ``conv_seg``: 1x1 conv, normal(std=0.01), zero bias."""
    conv = nn.Conv2d(channels, num_classes, kernel_size=1)
    nn.init.normal_(conv.weight, mean=0.0, std=0.01)
    nn.init.zeros_(conv.bias)
    return conv


def _resize(x: torch.Tensor, size) -> torch.Tensor:
    return F.interpolate(x, size=size, mode="bilinear", align_corners=False)


def _check_levels(name: str, features: Sequence[torch.Tensor], count: int) -> None:
    if len(features) != count:
        raise ValueError(f"{name} expects {count} feature maps, got {len(features)}")


class SemanticFPNHead(nn.Module):
    """Semantic FPN: mmseg's ``FPN`` neck + ``FPNHead``. Args: per-level input channels, classes, the
    neck's width (256), the head's width (128), the levels' strides (4, 8, 16, 32), dropout, norm."""

    def __init__(self, in_channels: Sequence[int], num_classes: int, fpn_channels: int = 256,
                 channels: int = 128, feature_strides: Sequence[int] = (4, 8, 16, 32), dropout: float = 0.1,
                 norm_layer: NormLayer = nn.BatchNorm2d):
        super().__init__()
        self.in_channels, self.feature_strides = list(in_channels), list(feature_strides)
        if len(self.feature_strides) != len(self.in_channels):
            raise ValueError(f"{len(self.in_channels)} levels of channels but {len(self.feature_strides)} strides")
        if min(self.feature_strides) != self.feature_strides[0]:
            raise ValueError(f"the first level must have the smallest stride, got {self.feature_strides}")
        self.num_classes = num_classes
        self.neck = FeaturePyramidNetwork(self.in_channels, fpn_channels)             # no norm, nearest top-down
        for m in self.neck.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.xavier_uniform_(m.weight)
                nn.init.zeros_(m.bias)
        base = self.feature_strides[0]
        self.scale_heads = nn.ModuleList()
        for stride in self.feature_strides:
            octaves = (stride // base).bit_length() - 1                               # log2(stride / base)
            if stride != base << octaves:
                raise ValueError(f"strides must be the first one times powers of two, got {self.feature_strides}")
            blocks = []
            for k in range(max(1, octaves)):
                blocks.append(_conv_norm_relu(fpn_channels if k == 0 else channels, channels, 3, norm_layer))
                if stride != base:
                    blocks.append(nn.Upsample(scale_factor=2, mode="bilinear", align_corners=False))
            self.scale_heads.append(nn.Sequential(*blocks))
        self.dropout = nn.Dropout2d(dropout) if dropout > 0 else nn.Identity()
        self.conv_seg = _classifier(channels, num_classes)

    def forward(self, features: Sequence[torch.Tensor]) -> torch.Tensor:
        """The pyramid's maps -> logits (B, num_classes) at the first level's resolution (stride 4)."""
        _check_levels("SemanticFPNHead", features, len(self.in_channels))
        pyramid = list(self.neck(OrderedDict((str(i), f) for i, f in enumerate(features))).values())
        out = self.scale_heads[0](pyramid[0])
        for head, x in zip(self.scale_heads[1:], pyramid[1:]):
            out = out + _resize(head(x), out.shape[-2:])                               # a no-op when sizes divide
        return self.conv_seg(self.dropout(out))


class UperNetHead(nn.Module):
    """UperNet: mmseg's ``UPerHead``. Args: per-level input channels, classes, width (512), PPM pool
    scales (1, 2, 3, 6), dropout, norm."""

    def __init__(self, in_channels: Sequence[int], num_classes: int, channels: int = 512,
                 pool_scales: Sequence[int] = (1, 2, 3, 6), dropout: float = 0.1,
                 norm_layer: NormLayer = nn.BatchNorm2d):
        super().__init__()
        self.in_channels, self.num_classes = list(in_channels), num_classes
        top = self.in_channels[-1]
        self.psp_modules = nn.ModuleList([
            nn.Sequential(nn.AdaptiveAvgPool2d(scale), _conv_norm_relu(top, channels, 1, norm_layer))
            for scale in pool_scales])
        self.bottleneck = _conv_norm_relu(top + len(pool_scales) * channels, channels, 3, norm_layer)
        self.lateral_convs = nn.ModuleList([_conv_norm_relu(c, channels, 1, norm_layer) for c in self.in_channels[:-1]])
        self.fpn_convs = nn.ModuleList([_conv_norm_relu(channels, channels, 3, norm_layer) for _ in self.in_channels[:-1]])
        self.fpn_bottleneck = _conv_norm_relu(len(self.in_channels) * channels, channels, 3, norm_layer)
        self.dropout = nn.Dropout2d(dropout) if dropout > 0 else nn.Identity()
        self.conv_seg = _classifier(channels, num_classes)

    def psp_forward(self, x: torch.Tensor) -> torch.Tensor:
        """Pyramid pooling on the last level: pooled branches upsampled back, concatenated with ``x``."""
        outs = [x] + [_resize(branch(x), x.shape[-2:]) for branch in self.psp_modules]
        return self.bottleneck(torch.cat(outs, dim=1))

    def forward(self, features: Sequence[torch.Tensor]) -> torch.Tensor:
        """The pyramid's maps -> logits (B, num_classes) at the first level's resolution (stride 4)."""
        _check_levels("UperNetHead", features, len(self.in_channels))
        laterals = [conv(x) for conv, x in zip(self.lateral_convs, features)]
        laterals.append(self.psp_forward(features[-1]))
        for i in range(len(laterals) - 1, 0, -1):                                      # top-down
            laterals[i - 1] = laterals[i - 1] + _resize(laterals[i], laterals[i - 1].shape[-2:])
        outs = [conv(x) for conv, x in zip(self.fpn_convs, laterals[:-1])] + [laterals[-1]]
        size = outs[0].shape[-2:]
        outs = [outs[0]] + [_resize(x, size) for x in outs[1:]]
        return self.conv_seg(self.dropout(self.fpn_bottleneck(torch.cat(outs, dim=1))))


class FCNAuxHead(nn.Module):
    """mmseg's auxiliary ``FCNHead`` (``concat_input=False``) on level ``in_index``. Args: that level's
    channels, classes, width (256), level (2: stride 16), 3x3 conv-norm-ReLU blocks (1), dropout, norm."""

    def __init__(self, in_channels: int, num_classes: int, channels: int = 256, in_index: int = 2,
                 num_convs: int = 1, dropout: float = 0.1, norm_layer: NormLayer = nn.BatchNorm2d):
        super().__init__()
        if num_convs < 1:
            raise ValueError("FCNAuxHead needs at least one conv")
        self.in_channels, self.num_classes, self.in_index = in_channels, num_classes, in_index
        self.convs = nn.Sequential(*[_conv_norm_relu(in_channels if k == 0 else channels, channels, 3, norm_layer)
                                     for k in range(num_convs)])
        self.dropout = nn.Dropout2d(dropout) if dropout > 0 else nn.Identity()
        self.conv_seg = _classifier(channels, num_classes)

    def forward(self, features: Sequence[torch.Tensor]) -> torch.Tensor:
        """The pyramid's maps -> logits (B, num_classes) at level ``in_index``'s resolution."""
        return self.conv_seg(self.dropout(self.convs(features[self.in_index])))


class DenseSegmenter(nn.Module):
    """Pyramid backbone -> decode head (-> auxiliary head in training) -> logits at the input size.

    ``forward`` gives (B, num_classes, H, W) logits, upsampled bilinearly from the head's stride 4; in
    training mode with an ``aux_head``, ``(logits, {"aux": aux_logits})`` with the auxiliary logits
    upsampled to the input too (mmseg resizes both to the labels before their losses).
    """

    def __init__(self, backbone: nn.Module, head: nn.Module, aux_head: Optional[nn.Module] = None):
        super().__init__()
        channels = list(getattr(backbone, "channels", head.in_channels))
        if channels != list(head.in_channels):
            raise ValueError(f"the backbone gives channels {channels} but the head takes {list(head.in_channels)}")
        strides = getattr(backbone, "strides", None)
        if strides is not None and hasattr(head, "feature_strides") and list(strides) != list(head.feature_strides):
            raise ValueError(f"the backbone gives strides {list(strides)} but the head expects {head.feature_strides}")
        if aux_head is not None:
            if aux_head.in_channels != channels[aux_head.in_index]:
                raise ValueError(f"the auxiliary head takes {aux_head.in_channels} channels but level "
                                 f"{aux_head.in_index} has {channels[aux_head.in_index]}")
            if aux_head.num_classes != head.num_classes:
                raise ValueError("the heads disagree on the number of classes")
        self.backbone, self.head, self.aux_head = backbone, head, aux_head
        self.num_classes = head.num_classes

    def no_weight_decay(self):
        names = getattr(self.backbone, "no_weight_decay", None)
        return {f"backbone.{n}" for n in names()} if callable(names) else set()

    def forward(self, images: torch.Tensor) -> Union[torch.Tensor, Tuple[torch.Tensor, Dict[str, torch.Tensor]]]:
        size = images.shape[-2:]
        features = list(self.backbone(images))
        logits = _resize(self.head(features), size)
        if self.training and self.aux_head is not None:
            return logits, {"aux": _resize(self.aux_head(features), size)}
        return logits


_OPTIONS = {
    "semantic_fpn": {"fpn_channels": 256, "head_channels": 128, "feature_strides": (4, 8, 16, 32)},
    "upernet": {"channels": 512, "pool_scales": (1, 2, 3, 6), "aux": True, "aux_channels": 256, "aux_in_index": 2},
}
_COMMON = {"dropout": 0.1, "norm_layer": nn.BatchNorm2d}


def build_head(kind: str, channels: Sequence[int], num_classes: int, /,
               **options) -> Tuple[nn.Module, Optional[nn.Module]]:
    """``(head, aux_head or None)`` for a backbone's per-level ``channels``, at the paper's widths by default.

    ``semantic_fpn``: ``fpn_channels`` = 256 (the neck), ``head_channels`` = 128, ``feature_strides``
    = (4, 8, 16, 32); no auxiliary head. ``upernet``: ``channels`` = 512 (the head's width: the first
    three arguments are positional-only, so this keyword is free), ``pool_scales`` = (1, 2, 3, 6),
    ``aux`` = True, ``aux_channels`` = 256, ``aux_in_index`` = 2. Both: ``dropout`` = 0.1,
    ``norm_layer`` = ``nn.BatchNorm2d``. An option the kind lacks is refused (TypeError).
    """
    if kind not in _OPTIONS:
        raise ValueError(f"unknown head {kind!r}; known: {', '.join(HEADS)}")
    known = {**_OPTIONS[kind], **_COMMON}
    unknown = sorted(set(options) - set(known))
    if unknown:
        raise TypeError(f"{kind} takes no option(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}")
    o = {**known, **options}
    common = {"dropout": o["dropout"], "norm_layer": o["norm_layer"]}
    if kind == "semantic_fpn":
        return SemanticFPNHead(channels, num_classes, fpn_channels=o["fpn_channels"], channels=o["head_channels"],
                               feature_strides=o["feature_strides"], **common), None
    head = UperNetHead(channels, num_classes, channels=o["channels"], pool_scales=o["pool_scales"], **common)
    aux = FCNAuxHead(channels[o["aux_in_index"]], num_classes, channels=o["aux_channels"],
                     in_index=o["aux_in_index"], **common) if o["aux"] else None
    return head, aux
