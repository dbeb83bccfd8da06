"""The LaViT designs considered, counted against the published sizes (docs/lavit.md prints the table).

Counts, not timings: every candidate is built on the meta device and counted the way Table 1 is
(``editrepro.models.complexity``, 224 px, 1000 classes). Candidates: the three sizes on PVTv2-b1/b2/b3
depths, MLP ratios of timm's PVTv2 (8/8/4/4) or 4 everywhere, and five rules for which layers are VA.
LA layers in stages 1-2 use keys-only transforms (a 3136 x 3136 query map would be 9.8M parameters).

    python benchmarks/lavit_design_search.py
"""
import math

import editrepro.models  # noqa: F401  (registers the models with timm)
from editrepro.models.complexity import count_complexity

PUBLISHED = {"tiny": (10.9, 1.6), "small": (22.4, 3.3), "base": (39.6, 6.1)}
DEPTHS = {"tiny": (2, 2, 2, 2), "small": (3, 4, 6, 3), "base": (3, 4, 18, 3)}
RULES = {
    "all VA": lambda d: tuple(d),
    "half of stages 3-4 LA (default)": lambda d: tuple(x if i < 2 else math.ceil(x / 2) for i, x in enumerate(d)),
    "one VA in stages 3-4": lambda d: tuple(x if i < 2 else 1 for i, x in enumerate(d)),
    "half of every stage LA": lambda d: tuple(math.ceil(x / 2) for x in d),
    "one VA in every stage": lambda d: tuple(1 for _ in d),
}


def main() -> None:
    print("| size | MLP ratios | VA layers per stage | params (M) | vs published | GMACs | vs published | both within 3% / 5% |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    for size, depths in DEPTHS.items():
        params_pub, flops_pub = PUBLISHED[size]
        for mlp in ((8, 8, 4, 4), (4, 4, 4, 4)):
            for rule, num_va in RULES.items():
                nv = num_va(depths)
                c = count_complexity(f"lavit_{size}_224", mlp_ratios=mlp, num_va=nv,
                                     la_query_mix=("none", "none", "full", "full"))
                dp, df = c.params_m / params_pub - 1, c.gmacs / flops_pub - 1
                ok = "yes" if abs(dp) <= 0.03 and abs(df) <= 0.05 else ""
                print(f"| {size} | {'/'.join(map(str, mlp))} | {rule}: {'/'.join(map(str, nv))} | {c.params_m:.2f} | "
                      f"{dp:+.1%} | {c.gmacs:.2f} | {df:+.1%} | {ok} |")


if __name__ == "__main__":
    main()
