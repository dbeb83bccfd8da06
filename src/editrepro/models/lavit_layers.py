"""The pieces LaViT adds to a PVTv2 pyramid: its two attentions, the attention carried across
stages, and the diagonality-preserving loss (see ``lavit.py`` for the evidence behind each).

Shapes: a stage of ``N = H x W`` tokens attends over ``K`` keys, PVTv2's spatially reduced grid
(``H / sr x W / sr``; 7 x 7 in every stage at 224 px). Attention maps are ``(B, heads, N, K)``.

- ``VanillaAttention``: timm's PVTv2 spatial-reduction attention that can hand its pre-softmax
  scores to the layers after it (and take an additive bias: the previous stage's attention).
- ``LessAttention``: computes no ``q k^T``. It maps the previous layer's scores with two linear
  transforms, ``A^l = Psi(Theta(A^{l-1})^T)^T``, i.e. ``W_Psi A^{l-1} W_Theta^T`` (``W_Theta``:
  K x K over the keys, ``W_Psi``: N x N over the queries), applies softmax again, and weights
  values computed from the layer's own input, pooled to the key grid.
- ``AttentionDownsample``: the previous stage's last scores, their query grid halved by a
  stride-2 3 x 3 convolution that also maps the previous stage's heads to this stage's.
- ``diagonality_preserving_loss``: symmetry and diagonal terms on the transformed attention.
"""
import math
from typing import List, Optional, Sequence, Tuple, Union

import torch
import torch.nn.functional as F
from torch import nn
from timm.models.pvt_v2 import Attention as PvtAttention

from .tracing import fx_tracing

__all__ = ["sra_scores", "attention_logits", "VanillaAttention", "AttentionTransform", "LessAttention", "AttentionDownsample",
           "diagonality_preserving_loss", "resample_transform", "grid_resampler", "interpolation_matrix",
           "DP_LOSS_FORMS"]

DP_LOSS_FORMS = ("half_diagonal", "mean_diagonal", "symmetry")


def sra_scores(attn: PvtAttention, x: torch.Tensor,
               feat_size: List[int]) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """``(q, k, v)`` of timm's PVTv2 attention for tokens ``x`` (B, N, C) on a ``feat_size`` grid.

    Shapes: q (B, heads, N, hd); k, v (B, heads, K, hd). Works for the spatial-reduction (conv)
    and the linear (pooling) variants alike, so the attention of any PVTv2 can be recomputed.
    """
    B, N, C = x.shape
    H, W = feat_size
    q = attn.q(x).reshape(B, N, attn.num_heads, -1).permute(0, 2, 1, 3)
    if attn.pool is not None or attn.sr is not None:
        x = x.permute(0, 2, 1).reshape(B, C, H, W)
        if attn.pool is not None:
            x = attn.pool(x)
        x = attn.sr(x).reshape(B, C, -1).permute(0, 2, 1)
        x = attn.norm(x)
        if attn.act is not None:
            x = attn.act(x)
    k, v = attn.kv(x).reshape(B, -1, 2, attn.num_heads, attn.head_dim).permute(2, 0, 3, 1, 4).unbind(0)
    return q, k, v


def _scores(attn: PvtAttention, q: torch.Tensor, k: torch.Tensor, bias: Optional[torch.Tensor]) -> torch.Tensor:
    logits = (q * attn.scale) @ k.transpose(-2, -1)                              # B, h, N, K
    return logits if bias is None else logits + bias


def attention_logits(attn: PvtAttention, x: torch.Tensor, feat_size: List[int],
                     bias: Optional[torch.Tensor] = None) -> torch.Tensor:
    """The pre-softmax scores ``q k^T / sqrt(hd) (+ bias)`` of a PVTv2 attention: (B, heads, N, K)."""
    q, k, _ = sra_scores(attn, x, feat_size)
    return _scores(attn, q, k, bias)


class VanillaAttention(PvtAttention):
    """PVTv2's spatial-reduction attention (same weights and names) that keeps its scores.

    ``forward(x, feat_size, bias, return_logits)`` returns ``(out, logits)``; ``logits`` (the
    pre-softmax scores plus ``bias``) only when asked, which takes the explicit path. Otherwise it
    runs timm's fused ``scaled_dot_product_attention`` with ``bias`` as its additive mask.
    """

    def __init__(self, dim: int, num_heads: int = 8, sr_ratio: int = 1, qkv_bias: bool = True,
                 attn_drop: float = 0.0, proj_drop: float = 0.0):
        super().__init__(dim, num_heads=num_heads, sr_ratio=sr_ratio, linear_attn=False, qkv_bias=qkv_bias,
                         attn_drop=attn_drop, proj_drop=proj_drop)

    def forward(self, x: torch.Tensor, feat_size: List[int], bias: Optional[torch.Tensor] = None,
                return_logits: bool = False) -> Tuple[torch.Tensor, Optional[torch.Tensor]]:
        B, N, C = x.shape
        q, k, v = sra_scores(self, x, feat_size)
        logits = None
        if self.fused_attn and not return_logits:
            if bias is not None:
                bias = bias.to(q.dtype)
            x = F.scaled_dot_product_attention(q, k, v, attn_mask=bias,
                                               dropout_p=self.attn_drop.p if self.training else 0.0)
        else:
            logits = _scores(self, q, k, bias)
            x = self.attn_drop(logits.softmax(dim=-1)) @ v
        x = x.transpose(1, 2).reshape(B, N, C)
        return self.proj_drop(self.proj(x)), logits


class AttentionTransform(nn.Module):
    """A linear map over one axis of an attention map, ``W = I + delta`` (identity at init).

    Parametrised around the identity: an untrained map reuses the previous attention as is, and
    weight decay pulls it back towards reuse rather than towards a uniform attention.

    The map is learned for one token grid. On another grid (dense prediction: detection and
    segmentation images of any size) it acts as its bicubic resampling to that grid, exactly what
    ``resample_transform`` writes into a checkpoint for fine-tuning at 384, applied in factored
    form: ``W' = I + (M / M') R delta R^T`` with ``R`` (M' x M) the fixed bicubic interpolation
    from the learned grid to the current one. It never builds the M' x M' matrix: at 1280 x 800 a
    stage-3 map would be 4000 x 4000 per layer, while ``R`` is 4000 x 196.

    Args:
        size: Length M of the axis it mixes (K keys or N queries).
        groups: 1 (one map shared by every head) or the number of heads (one map each).
        grid: The (H, W) grid of those M cells (default: square).
    """

    def __init__(self, size: int, groups: int = 1, grid: Optional[Sequence[int]] = None):
        super().__init__()
        self.size = size
        if grid is None:
            side = math.isqrt(size)
            grid = (side, side) if side * side == size else (size, 1)
        if grid[0] * grid[1] != size:
            raise ValueError(f"grid {tuple(grid)} does not have {size} cells")
        self.grid = (int(grid[0]), int(grid[1]))
        self.delta = nn.Parameter(torch.zeros(groups, size, size))
        self._resamplers = {}

    def weight(self) -> torch.Tensor:
        return self.delta + torch.eye(self.size, device=self.delta.device, dtype=self.delta.dtype)

    def resampler(self, grid: Sequence[int], dtype: torch.dtype) -> torch.Tensor:
        """``R`` (M' x M): bicubic interpolation from the learned grid to ``grid`` (cached per grid)."""
        key = (tuple(grid), self.delta.device, dtype)
        if key not in self._resamplers:
            self._resamplers[key] = grid_resampler(self.grid, grid).to(self.delta.device, dtype)
        return self._resamplers[key]

    def _same_grid(self, grid: Optional[Sequence[int]]) -> bool:
        return grid is None or fx_tracing() or tuple(grid) == self.grid

    def keys(self, a: torch.Tensor, grid: Optional[Sequence[int]] = None) -> torch.Tensor:
        """``a W^T`` over the last axis (keys): (B, heads, N, K) -> same; ``grid``: the keys' grid."""
        if self._same_grid(grid):
            return a @ self.weight().transpose(-2, -1).to(a.dtype)
        r = self.resampler(grid, a.dtype)                                      # K' x K
        scale = self.size / (grid[0] * grid[1])
        return a + scale * (((a @ r) @ self.delta.transpose(-2, -1).to(a.dtype)) @ r.transpose(0, 1))

    def queries(self, a: torch.Tensor, grid: Optional[Sequence[int]] = None) -> torch.Tensor:
        """``W a`` over the query axis: (B, heads, N, K) -> same; ``grid``: the queries' grid."""
        if self._same_grid(grid):
            return self.weight().to(a.dtype) @ a
        r = self.resampler(grid, a.dtype)                                      # N' x N
        scale = self.size / (grid[0] * grid[1])
        return a + scale * (r @ (self.delta.to(a.dtype) @ (r.transpose(0, 1) @ a)))

    def extra_repr(self) -> str:
        return f"size={self.size}, groups={self.delta.shape[0]}, grid={self.grid}"


class LessAttention(nn.Module):
    """LaViT's Less-Attention: no ``q k^T``; the previous scores, linearly transformed, weight new values.

    Args:
        dim: Token width C.
        num_heads: Heads (as the stage's vanilla layers).
        sr_ratio: The stage's spatial reduction: values are average-pooled to the key grid.
        grid: The query grid (H, W) the transforms are built for; the key grid is ``grid / sr_ratio``.
        query_mix: ``"full"``: ``W_Psi`` is N x N over the queries; ``"none"``: keys only (``W_Theta``).
        shared_heads: One ``W_Theta`` / ``W_Psi`` for all heads (True) or one per head.
        source: ``"logits"``: transform the previous pre-softmax scores; ``"probs"``: its softmax.
    """

    def __init__(self, dim: int, num_heads: int, sr_ratio: int, grid: Sequence[int], query_mix: str = "full",
                 shared_heads: bool = True, source: str = "logits", qkv_bias: bool = True, attn_drop: float = 0.0,
                 proj_drop: float = 0.0):
        super().__init__()
        if dim % num_heads:
            raise ValueError(f"heads {num_heads} do not divide the width {dim}")
        if query_mix not in ("full", "none"):
            raise ValueError(f"la_query_mix must be 'full' or 'none', got {query_mix!r}")
        if source not in ("logits", "probs"):
            raise ValueError(f"la_source must be 'logits' or 'probs', got {source!r}")
        H, W = grid
        if H % sr_ratio or W % sr_ratio:
            raise ValueError(f"the query grid {H}x{W} is not divisible by the spatial reduction {sr_ratio}")
        self.num_heads = num_heads
        self.head_dim = dim // num_heads
        self.sr_ratio = sr_ratio
        self.key_grid = (H // sr_ratio, W // sr_ratio)
        self.source = source
        groups = 1 if shared_heads else num_heads
        self.v = nn.Linear(dim, dim, bias=qkv_bias)
        self.norm = nn.LayerNorm(dim) if sr_ratio > 1 else None    # as SRA normalises its reduced tokens
        self.theta = AttentionTransform(self.key_grid[0] * self.key_grid[1], groups, self.key_grid)
        self.psi = AttentionTransform(H * W, groups, (H, W)) if query_mix == "full" else None
        self.attn_probs = nn.Identity()   # hook point: capture_attention reads the maps here
        self.attn_drop = nn.Dropout(attn_drop)
        self.proj = nn.Linear(dim, dim)
        self.proj_drop = nn.Dropout(proj_drop)

    def values(self, x: torch.Tensor, feat_size: List[int]) -> torch.Tensor:
        """Values from the layer's own tokens, pooled to the key grid: (B, heads, K, hd)."""
        B, N, C = x.shape
        H, W = feat_size
        if self.sr_ratio > 1:
            x = F.avg_pool2d(x.transpose(1, 2).reshape(B, C, H, W), self.sr_ratio).flatten(2).transpose(1, 2)
            x = self.norm(x)
        return self.v(x).reshape(B, -1, self.num_heads, self.head_dim).transpose(1, 2)

    def transform(self, prev: torch.Tensor, feat_size: Optional[Sequence[int]] = None) -> torch.Tensor:
        """``W_Psi A W_Theta^T`` of the previous layer's scores (or of their softmax) on the query grid
        ``feat_size`` (default: the grid the transforms were built for)."""
        a = prev.softmax(dim=-1) if self.source == "probs" else prev
        key_grid = None if feat_size is None else (feat_size[0] // self.sr_ratio, feat_size[1] // self.sr_ratio)
        a = self.theta.keys(a, key_grid)
        return self.psi.queries(a, feat_size) if self.psi is not None else a

    def forward(self, x: torch.Tensor, feat_size: List[int], prev: torch.Tensor,
                dp_form: Optional[str] = None) -> Tuple[torch.Tensor, torch.Tensor, Optional[torch.Tensor]]:
        """``(out, scores, dp)``: the output tokens, this layer's scores (for the next layer) and, when
        ``dp_form`` names a form, the diagonality-preserving loss of its attention."""
        B, N, C = x.shape
        logits = self.transform(prev, feat_size)                                 # B, h, N, K
        probs = self.attn_probs(logits.softmax(dim=-1))
        dp = diagonality_preserving_loss(probs, feat_size, self.sr_ratio, dp_form) if dp_form else None
        out = self.attn_drop(probs) @ self.values(x, feat_size)                  # B, h, N, hd
        out = out.transpose(1, 2).reshape(B, N, C)
        return self.proj_drop(self.proj(out)), logits, dp


class AttentionDownsample(nn.Module):
    """The previous stage's scores on this stage's grid: (B, h_prev, N_prev, K) -> (B, h, N, K).

    Each key's map over the query grid is an image with the heads as channels; a 3 x 3 stride-2
    convolution (padding 1, the geometry of the stage's own token downsampling) halves the grid
    and maps ``in_heads`` to ``out_heads``. It starts as the mean over the window and the heads.
    It has no bias: one constant added to all of a query's scores is cancelled by the softmax.
    """

    def __init__(self, in_heads: int, out_heads: int):
        super().__init__()
        self.conv = nn.Conv2d(in_heads, out_heads, kernel_size=3, stride=2, padding=1, bias=False)
        self.init_weights()

    def init_weights(self) -> None:
        nn.init.constant_(self.conv.weight, 1.0 / (9 * self.conv.in_channels))

    def forward(self, a: torch.Tensor, grid: List[int]) -> torch.Tensor:
        B, h, N, K = a.shape
        H, W = grid
        x = self.conv(a.permute(0, 3, 1, 2).reshape(B * K, h, H, W))          # B*K, h', H', W'
        return x.reshape(B, K, x.shape[1], -1).permute(0, 2, 3, 1)


def diagonality_preserving_loss(probs: torch.Tensor, grid: Sequence[int], sr_ratio: int,
                                form: str = "half_diagonal") -> torch.Tensor:
    """Symmetry and diagonal terms of an attention map between a token set and itself.

    ``probs`` (B, heads, N, K) is pooled over the queries of each key cell to ``A`` (K x K, rows
    still summing to 1): the attention between the reduced token set and itself (with
    ``sr_ratio`` 1 it is the map itself). Per matrix, with ``o_i = sum_{j != i} A_ij``:

    - symmetry: ``sum_ij |A_ij - A_ji|``;
    - ``half_diagonal``: ``sum_i |A_ii - o_i|``, zero when the diagonal holds half of each row;
    - ``mean_diagonal``: ``sum_i |(K - 1) A_ii - o_i|``, zero when the diagonal equals the mean
      off-diagonal entry;
    - ``symmetry``: the symmetry term alone.

    Both sums are divided by K (an average per row), then averaged over heads and the batch.
    """
    if form not in DP_LOSS_FORMS:
        raise ValueError(f"dp_loss_form must be one of {DP_LOSS_FORMS}, got {form!r}")
    B, h, N, K = probs.shape
    a = probs.float()
    if sr_ratio > 1:
        H, W = grid
        a = F.avg_pool2d(a.transpose(-2, -1).reshape(B, h * K, H, W), sr_ratio)    # B, h*K, kh, kw
        a = a.reshape(B, h, K, -1).transpose(-2, -1)                               # B, h, K cells, K keys
    loss = (a - a.transpose(-2, -1)).abs().sum(dim=(-2, -1))
    if form != "symmetry":
        diag = a.diagonal(dim1=-2, dim2=-1)
        off = a.sum(dim=-1) - diag
        weight = 1.0 if form == "half_diagonal" else K - 1.0
        loss = loss + (weight * diag - off).abs().sum(dim=-1)
    return (loss / K).mean()


def interpolation_matrix(old: int, new: int) -> torch.Tensor:
    """(new x old): 1-D bicubic interpolation as ``F.interpolate`` computes it (no corners aligned)."""
    basis = torch.eye(old, dtype=torch.float64).reshape(old, 1, old, 1)
    return F.interpolate(basis, size=(new, 1), mode="bicubic", align_corners=False).reshape(old, new).T


def grid_resampler(old: Sequence[int], new: Sequence[int]) -> torch.Tensor:
    """(H' W' x H W): bicubic resampling of a field on an ``old`` (H, W) grid to a ``new`` one,
    row-major cells, as ``F.interpolate`` does it (separable: the Kronecker product of the axes)."""
    return torch.kron(interpolation_matrix(old[0], new[0]), interpolation_matrix(old[1], new[1])).float()


def resample_transform(delta: torch.Tensor, new_size: Union[int, Sequence[int]],
                       old_grid: Optional[Sequence[int]] = None) -> torch.Tensor:
    """An ``AttentionTransform``'s ``delta`` (G, M, M) on another grid (G, M', M').

    The map is a field over (output cell, input cell) of the grid: both are resampled bicubically
    (no antialiasing, like position embeddings), and the result is scaled by M / M' so that a map
    keeps its effect on a smooth input whose grid got denser. The identity part is exact at any size.
    ``new_size``: M' cells of a square grid, or the new (H', W'); ``old_grid``: default square.
    """
    G, M, _ = delta.shape
    if old_grid is None:
        old = math.isqrt(M)
        old_grid = (old, old)
    if isinstance(new_size, int):
        new = math.isqrt(new_size)
        new_grid = (new, new)
    else:
        new_grid = tuple(new_size)
    if old_grid[0] * old_grid[1] != M or (isinstance(new_size, int) and new_grid[0] * new_grid[1] != new_size):
        raise ValueError(f"cannot resample an attention transform of {M} to {new_size} cells: "
                         "a cell count names only square grids (give the grids of non-square maps)")
    r = grid_resampler(old_grid, new_grid).to(delta.device)                 # M' x M
    d = r @ delta.float() @ r.T                                            # G, M', M'
    return (d * (M / (new_grid[0] * new_grid[1]))).to(delta.dtype)
