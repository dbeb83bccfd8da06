""" EDIT: Encoder-Decoder Image Transformer

Paper: `EDIT: Enhancing Vision Transformers by Mitigating Attention Sink through an
Encoder-Decoder Architecture` - https://arxiv.org/abs/2504.06738

The encoder is a DeiT III ViT over the patch tokens only. [CLS] never enters it: a
decoder step after every encoder layer i updates it by cross-attention over that layer's
tokens, with one set of weights shared by all steps::

    S_i = concat(X_i, c_{i-1})                          # (B, N + 1, D)
    a_i = softmax(c_{i-1} (S_i W_k)^T / sqrt(D))        # (B, 1, N + 1), one head
    c_i = c_{i-1} + LN(a_i S_i W_v)

``W_k`` and ``W_v`` are D x D without bias; there is no query or output projection and no
MLP. ``c_0`` is a learned token without position embedding, and the final norm and head
read ``c_L`` exactly where DeiT III reads its class token. This is the only design that
lands on the paper's Table 1: EDIT-B = DeiT3-B + 2 D^2 = 87,764,968 parameters, and the
per-layer K/V projection of N + 1 tokens gives 1.42 / 5.28 / 20.27 GMACs (T / S / B).

The decoder's LayerNorm has no affine parameters by default (those counts leave no room
for them); ``decoder_norm_affine``, ``decoder_qo_proj`` (conventional W_q, W_o) and
``decoder_heads`` are options for ablations. ``decoder_reassociate`` computes the same
function as ``c W_k^T S^T`` and ``(a S) W_v``, which removes the projection of all tokens
and nearly all of the decoder's cost: identical outputs up to float rounding, fewer FLOPs
than the paper counts.
"""

import torch
from torch import nn
from timm.layers import trunc_normal_
from timm.models import register_model
from timm.models._manipulate import checkpoint

from .deit3 import DeiT3, variant_cfgs
from .tracing import fx_tracing
from .weights import build_variant

__all__ = ["EDIT", "ClsDecoder"]


class ClsDecoder(nn.Module):
    """One EDIT decoder step: [CLS] cross-attends to the current encoder tokens and itself.

    Args:
        dim: Token width D.
        num_heads: Attention heads (the paper: 1).
        qo_proj: Add query and output projections (D x D each, no bias).
        norm_affine: Give the post-attention LayerNorm a weight and bias.
        reassociate: Compute ``q W_k^T S^T`` and ``(a S) W_v`` instead of projecting every token.
    """

    def __init__(
            self,
            dim: int,
            num_heads: int = 1,
            qo_proj: bool = False,
            norm_affine: bool = False,
            reassociate: bool = False,
            norm_eps: float = 1e-6,
    ) -> None:
        super().__init__()
        if dim % num_heads:
            raise ValueError(f"decoder_heads={num_heads} does not divide the width {dim}")
        self.dim = dim
        self.num_heads = num_heads
        self.head_dim = dim // num_heads
        self.scale = self.head_dim ** -0.5
        self.reassociate = reassociate
        self.q = nn.Linear(dim, dim, bias=False) if qo_proj else nn.Identity()
        self.kv = nn.Linear(dim, 2 * dim, bias=False)
        self.attn_probs = nn.Identity()  # hook point: attention maps are read here on demand
        self.proj = nn.Linear(dim, dim, bias=False) if qo_proj else nn.Identity()
        self.norm = nn.LayerNorm(dim, eps=norm_eps, elementwise_affine=norm_affine)

    def init_weights(self) -> None:
        for m in (self.q, self.kv, self.proj):
            if isinstance(m, nn.Linear):
                trunc_normal_(m.weight, std=0.02)

    def forward(self, x: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
        """``x``: encoder tokens (B, N, D); ``c``: [CLS] state (B, 1, D). Returns the next state."""
        B, N, D = x.shape
        H, hd = self.num_heads, self.head_dim
        s = torch.cat([x, c], dim=1)                                          # B, N+1, D
        q = self.q(c).view(B, H, hd)                                          # B, H, hd
        if self.reassociate:
            w_k, w_v = self.kv.weight.view(2, H, hd, D).unbind(0)             # H, hd, D
            qk = torch.einsum("bhd,hde->bhe", q * self.scale, w_k)            # B, H, D
            attn = torch.einsum("bhe,bne->bhn", qk, s)                         # B, H, N+1
            attn = self.attn_probs(attn.softmax(dim=-1))
            ctx = torch.einsum("bhn,bne->bhe", attn, s)                        # B, H, D
            out = torch.einsum("bhe,hde->bhd", ctx, w_v)                       # B, H, hd
        else:
            k, v = self.kv(s).view(B, N + 1, 2, H, hd).permute(2, 0, 3, 1, 4).unbind(0)  # B, H, N+1, hd
            attn = (q.unsqueeze(2) * self.scale) @ k.transpose(-2, -1)        # B, H, 1, N+1
            attn = self.attn_probs(attn.softmax(dim=-1).squeeze(2))           # B, H, N+1
            out = (attn.unsqueeze(2) @ v).squeeze(2)                          # B, H, hd
        out = self.proj(out.reshape(B, 1, D))
        return c + self.norm(out)


class EDIT(DeiT3):
    """EDIT: a DeiT III encoder over patches and a weight-shared, layer-aligned [CLS] decoder.

    ``forward_features`` returns ``norm(concat(c_L, X_L))`` of shape (B, 1 + N, D): the
    [CLS] state first, like a ViT's class token (``num_prefix_tokens == 1``), so timm's
    ``forward_head``, ``forward_intermediates`` users and dense heads see the usual layout.

    Args:
        decoder_heads: Heads of the decoder's cross-attention (paper: 1).
        decoder_qo_proj: Add W_q and W_o to the decoder (+2 D^2 parameters; not the paper's).
        decoder_norm_affine: Learnable LayerNorm in the decoder (+2 D; not the paper's).
        decoder_reassociate: Same function, computed without projecting every token.
        **kwargs: ``DeiT3`` / timm ``VisionTransformer`` arguments.
    """

    def __init__(
            self,
            *,
            decoder_heads: int = 1,
            decoder_qo_proj: bool = False,
            decoder_norm_affine: bool = False,
            decoder_reassociate: bool = False,
            **kwargs,
    ) -> None:
        for key, allowed in (("class_token", True), ("no_embed_class", True), ("reg_tokens", 0),
                             ("patch_drop_rate", 0.0), ("pre_norm", False)):
            if kwargs.get(key, allowed) != allowed:
                raise ValueError(f"EDIT does not support {key}={kwargs[key]!r} (only {allowed!r})")
        global_pool = kwargs.setdefault("global_pool", "token")
        if global_pool not in ("token", ""):
            raise ValueError(f"EDIT classifies from its [CLS] state: global_pool must be 'token' or '', got {global_pool!r}")
        weight_init = kwargs.pop("weight_init", "")
        super().__init__(weight_init="skip", **kwargs)
        self.decoder = ClsDecoder(
            self.embed_dim,
            num_heads=decoder_heads,
            qo_proj=decoder_qo_proj,
            norm_affine=decoder_norm_affine,
            reassociate=decoder_reassociate,
        )
        if weight_init != "skip":
            self.weight_init_mode = weight_init
            self.init_weights(needs_reset=False)

    def init_weights(self, mode: str = "", needs_reset: bool = True) -> None:
        super().init_weights(mode, needs_reset=needs_reset)
        if hasattr(self, "decoder"):
            self.decoder.init_weights()

    def group_matcher(self, coarse: bool = False):
        matcher = super().group_matcher(coarse)
        matcher["blocks"] = [(r"^blocks\.(\d+)", None), (r"^decoder|^norm", (99999,))]
        return matcher

    def _embed(self, x: torch.Tensor) -> torch.Tensor:
        self.check_input(x)
        x = self.patch_embed(x) + self.pos_embed                              # B, N, D
        return self.pos_drop(x)

    def forward_features(self, x: torch.Tensor, attn_mask=None, is_causal: bool = False) -> torch.Tensor:
        if not fx_tracing() and (attn_mask is not None or is_causal):   # fx passes its placeholders
            raise ValueError("EDIT's encoder attends over all patches: attn_mask and is_causal are not supported")
        x = self._embed(x)
        c = self.cls_token.expand(x.shape[0], -1, -1)                           # c_0: B, 1, D
        use_checkpoint = self.grad_checkpointing and torch.is_grad_enabled() and not torch.jit.is_scripting()
        for blk in self.blocks:
            x = checkpoint(blk, x) if use_checkpoint else blk(x)                # X_i
            c = self.decoder(x, c)                                             # c_i
        return self.norm(torch.cat([c, x], dim=1))

    def forward_intermediates(
            self,
            x: torch.Tensor,
            indices=None,
            return_prefix_tokens: bool = False,
            norm: bool = False,
            stop_early: bool = False,
            output_fmt: str = "NCHW",
            intermediates_only: bool = False,
            **kwargs,
    ):
        """timm's ``forward_intermediates``: per-layer patch tokens, with c_i as the prefix token."""
        from timm.models._features import feature_take_indices

        if output_fmt not in ("NCHW", "NLC"):
            raise ValueError(f"output_fmt must be 'NCHW' or 'NLC', got {output_fmt!r}")
        take_indices, max_index = feature_take_indices(len(self.blocks), indices)
        blocks = self.blocks[:max_index + 1] if stop_early else self.blocks
        B, _, height, width = x.shape
        x = self._embed(x)
        c = self.cls_token.expand(B, -1, -1)
        intermediates, prefixes = [], []
        for i, blk in enumerate(blocks):
            x = blk(x)
            c = self.decoder(x, c)
            if i in take_indices:
                y = self.norm(torch.cat([c, x], dim=1)) if norm else torch.cat([c, x], dim=1)
                prefixes.append(y[:, :1])
                intermediates.append(y[:, 1:])
        if output_fmt == "NCHW":
            H, W = self.patch_embed.dynamic_feat_size((height, width))
            intermediates = [y.reshape(B, H, W, -1).permute(0, 3, 1, 2).contiguous() for y in intermediates]
        if return_prefix_tokens:
            intermediates = list(zip(intermediates, prefixes))
        if intermediates_only:
            return intermediates
        return self.norm(torch.cat([c, x], dim=1)), intermediates


default_cfgs = variant_cfgs("edit")


def _create_edit(variant: str, pretrained: bool = False, **kwargs) -> EDIT:
    return build_variant(EDIT, variant, pretrained, **kwargs)


@register_model
def edit_tiny_patch16_224(pretrained: bool = False, **kwargs) -> EDIT:
    """EDIT-Tiny @ 224 (DeiT-Tiny width, DeiT III blocks)."""
    model_args = dict(patch_size=16, embed_dim=192, depth=12, num_heads=3)
    return _create_edit("edit_tiny_patch16_224", pretrained=pretrained, **dict(model_args, **kwargs))


@register_model
def edit_tiny_patch16_384(pretrained: bool = False, **kwargs) -> EDIT:
    """EDIT-Tiny @ 384."""
    model_args = dict(img_size=384, patch_size=16, embed_dim=192, depth=12, num_heads=3)
    return _create_edit("edit_tiny_patch16_384", pretrained=pretrained, **dict(model_args, **kwargs))


@register_model
def edit_small_patch16_224(pretrained: bool = False, **kwargs) -> EDIT:
    """EDIT-Small @ 224."""
    model_args = dict(patch_size=16, embed_dim=384, depth=12, num_heads=6)
    return _create_edit("edit_small_patch16_224", pretrained=pretrained, **dict(model_args, **kwargs))


@register_model
def edit_small_patch16_384(pretrained: bool = False, **kwargs) -> EDIT:
    """EDIT-Small @ 384."""
    model_args = dict(img_size=384, patch_size=16, embed_dim=384, depth=12, num_heads=6)
    return _create_edit("edit_small_patch16_384", pretrained=pretrained, **dict(model_args, **kwargs))


@register_model
def edit_base_patch16_224(pretrained: bool = False, **kwargs) -> EDIT:
    """EDIT-Base @ 224."""
    model_args = dict(patch_size=16, embed_dim=768, depth=12, num_heads=12)
    return _create_edit("edit_base_patch16_224", pretrained=pretrained, **dict(model_args, **kwargs))


@register_model
def edit_base_patch16_384(pretrained: bool = False, **kwargs) -> EDIT:
    """EDIT-Base @ 384."""
    model_args = dict(img_size=384, patch_size=16, embed_dim=768, depth=12, num_heads=12)
    return _create_edit("edit_base_patch16_384", pretrained=pretrained, **dict(model_args, **kwargs))
