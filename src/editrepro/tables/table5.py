"""Table 5: semantic segmentation. Segmenter's Mask Transformer on each backbone's ImageNet-1k 224 run, trained on
ADE20K (``ade20k``), scored single- and multi-scale."""
from ..reporting.results import collect_table5
from ..reporting.tables import table5_sections
from .base import Cell, Evaluation, Table, register


@register
class Table5(Table):
    name = "table5"
    title = "Table 5: semantic segmentation on ADE20K (Segmenter, mIoU %)"
    evaluations = (Evaluation(
        r"ade20k",
        tags=lambda plan, run, model, seed: dict(table="table5", row=model, resolution=512, stage="segment",
                                                 config=plan.name, seed=seed),
        reads=lambda run: "ade20k", waits=False, names=False),)

    def cells(self, plan):
        return [Cell("table5", "ade20k", m, s, resolution=512)
                for m in plan.table_spec("table5")["models"] for s in plan.seeds_of("table5")]

    def collect(self, evals, paper_tables, config_name, comparable):
        from ..analysis import counting   # the counted cells: models built on the meta device

        return collect_table5(evals, paper_tables, config_name, comparable, counter=counting)

    def sections(self, cells):
        return table5_sections(cells)
