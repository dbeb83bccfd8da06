"""Parameter and FLOP counts against the paper's Table 1 and closed-form counts."""
import pytest

from editrepro.models.complexity import count_complexity


@pytest.mark.parametrize("name,params", [
    ("edit_base_patch16_224", 87_764_968),          # the paper's 87.76M, to the parameter
    ("edit_small_patch16_224", 22_354_408),
    ("edit_tiny_patch16_224", 5_795_560),
    ("deit3_ref_base_patch16_224", 86_585_320),     # = timm's deit3_base_patch16_224
])
def test_exact_parameter_counts(name, params):
    assert count_complexity(name).params == params


@pytest.mark.parametrize("size,dim", [("tiny", 192), ("small", 384), ("base", 768)])
def test_edit_adds_exactly_two_shared_matrices(size, dim):
    edit = count_complexity(f"edit_{size}_patch16_224").params
    deit3 = count_complexity(f"deit3_ref_{size}_patch16_224").params
    assert edit - deit3 == 2 * dim * dim
    qo = count_complexity(f"edit_{size}_patch16_224", decoder_qo_proj=True).params
    assert qo - edit == 2 * dim * dim


@pytest.mark.parametrize("name,paper_params_m,paper_gmacs", [
    ("edit_tiny_patch16_224", 5.82, 1.42),
    ("edit_small_patch16_224", 22.30, 5.28),
    ("edit_base_patch16_224", 87.76, 20.27),
])
def test_table1_within_one_percent(name, paper_params_m, paper_gmacs):
    c = count_complexity(name)
    assert c.params_m == pytest.approx(paper_params_m, rel=0.01)
    assert c.gmacs == pytest.approx(paper_gmacs, rel=0.01)


@pytest.mark.parametrize("name,paper_gmacs", [
    ("deit3_ref_small_patch16_384", 12.5), ("edit_small_patch16_384", 14.5),
    ("deit3_ref_base_patch16_384", 49.4), ("edit_base_patch16_384", 57.5),
])
def test_paper_384_figures_match_only_without_attention(name, paper_gmacs):
    c = count_complexity(name)
    assert c.gmacs_no_attn == pytest.approx(paper_gmacs, rel=0.01)
    assert c.gmacs > paper_gmacs * 1.05


def test_attention_share_equals_the_closed_form():
    # DeiT3-B at 224: 12 layers of q k^T and attn v over 197 tokens of width 768
    c = count_complexity("deit3_ref_base_patch16_224")
    assert (c.gmacs - c.gmacs_no_attn) * 1e9 == pytest.approx(12 * 2 * 197 ** 2 * 768, rel=1e-9)
    # the K/V projections of N + 1 = 197 tokens are the whole extra cost of EDIT-B, less the
    # encoder's missing [CLS] token and plus the decoder's single-query attention and norm
    edit = count_complexity("edit_base_patch16_224")
    kv = 12 * 2 * 197 * 768 ** 2
    assert (edit.gmacs - c.gmacs) * 1e9 == pytest.approx(kv - 0.092e9, rel=0.01)


def test_reassociated_decoder_is_almost_free():
    paper_form = count_complexity("edit_small_patch16_224")
    fast = count_complexity("edit_small_patch16_224", decoder_reassociate=True)
    deit3 = count_complexity("deit3_ref_small_patch16_224")
    assert fast.params == paper_form.params
    assert fast.gmacs < deit3.gmacs < paper_form.gmacs
