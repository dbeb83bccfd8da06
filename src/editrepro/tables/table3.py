"""Table 3: ImageNet-1k top-1 of EDIT and DeiT III. Half (a) trains on ImageNet-1k at 224 (``in1k_224``) and
fine-tunes at 384 (``in1k_384``); half (b) pretrains on ImageNet-21k (``in21k_pretrain``) and fine-tunes on
ImageNet-1k at 224 and 384 (``in21k_224``, ``in21k_384``). Where ``tables.table3[.<half>].baselines`` lists
``deit3_official``, each DeiT3 model is also trained by DeiT III's own recipes (``in1k_official_*``,
``in21k_official_*``), a row of its own."""
from ..baselines import OFFICIAL, official_row
from ..reporting.results import collect_table3
from ..reporting.tables import table3_sections
from .base import Cell, Evaluation, Table, register

HALVES = {"a": "in1k", "b": "in21k"}


def imagenet1k_tags(plan, run, model, seed):
    stage, res = run.rsplit("_", 1)
    if stage in ("in1k_official", "in21k_official"):   # DeiT III's own recipes: a row of their own
        return dict(table="table3", half="a" if stage == "in1k_official" else "b", row=official_row(model),
                    resolution=res, stage=run, baseline=OFFICIAL, config=plan.name, seed=seed)
    return dict(table="table3", half={"in1k": "a", "in21k": "b"}[stage], row=model, resolution=res, stage=run,
                config=plan.name, seed=seed)


@register
class Table3(Table):
    name = "table3"
    title = "Table 3: ImageNet-1k top-1 of EDIT and DeiT III"
    evaluations = (Evaluation(r"in1k_(224|384)|in21k_(224|384)|in1k_official_(224|384)|in21k_official_(224|384)",
                              tags=imagenet1k_tags, reads=lambda run: "imagenet1k", waits=True, names=True),)

    def cells(self, plan):
        spec = plan.table_spec("table3")
        cells = []
        for half, part in HALVES.items():      # the EDIT paper's recipes: every model of the half
            cells += [Cell("table3", f"{part}_{res}", m, s, half=half, resolution=int(res))
                      for m in spec[part]["models"] for res in spec[part]["resolutions"]
                      for s in plan.seeds_of("table3", part)]
        for half, part in HALVES.items():      # DeiT III's own recipes: not priced (cost pairs the paper's claims)
            cells += [Cell("table3", f"{part}_official_{res}", m, s, half=half, resolution=int(res), priced=False)
                      for m in plan.official_models(part) for res in spec[part]["resolutions"]
                      for s in plan.seeds_of("table3", part)]
        return cells

    def collect(self, evals, paper_tables, config_name, comparable):
        return collect_table3(evals, paper_tables, config_name, comparable)

    def sections(self, cells):
        return table3_sections(cells)
