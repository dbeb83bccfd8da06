"""Table 4: transfer learning. Each model's ImageNet-1k 224 run fine-tuned by the transfer recipe on each dataset
(``transfer_<dataset>``), scored on the dataset's test split (the readers' "val")."""
from ..reporting.results import collect_table4
from ..reporting.tables import table4_sections
from .base import Cell, Evaluation, Table, register


@register
class Table4(Table):
    name = "table4"
    title = "Table 4: transfer learning from ImageNet-1k (top-1 %)"
    evaluations = (Evaluation(
        r"transfer_(cifar10|cifar100|flowers102|dtd|caltech256)",
        tags=lambda plan, run, model, seed: dict(table="table4", row=model, column=run.split("_", 1)[1],
                                                 resolution=224, stage="transfer", config=plan.name, seed=seed),
        reads=lambda run: run.split("_", 1)[1], waits=False, names=False),)

    def cells(self, plan):
        spec = plan.table_spec("table4")
        return [Cell("table4", f"transfer_{d}", m, s, column=d, resolution=224)
                for m in spec["models"] for d in spec["datasets"] for s in plan.seeds_of("table4")]

    def collect(self, evals, paper_tables, config_name, comparable):
        return collect_table4(evals, paper_tables, config_name, comparable)

    def sections(self, cells):
        return table4_sections(cells)
