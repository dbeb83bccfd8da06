"""``editrepro attention-report``: ``reports/attention_sink.md`` from the ``attention_sink.json`` of each model
(``--sink``), or ``reports/calibration.md`` from the ``evaluate --model`` JSON of each timm model
(``--calibration``, with ``--published NAME=TOP1`` the top-1 timm publishes for it). No torch: JSON in,
markdown out."""
import argparse

HELP = "render the attention-sink page (per model) or the calibration page (published vs measured top-1)"


def add_arguments(p: argparse.ArgumentParser) -> None:
    what = p.add_mutually_exclusive_group(required=True)
    what.add_argument("--sink", nargs="+", metavar="JSON", help="attention_sink.json of each model, in row order")
    what.add_argument("--calibration", nargs="+", metavar="JSON", help="evaluate --model JSON of each timm model")
    p.add_argument("--published", action="append", default=[], metavar="NAME=TOP1",
                   help="published ImageNet-1k top-1 of a model (its tag `name` in the JSON; repeatable)")
    p.add_argument("--config", default='{"name": "", "comparable_to_paper": true}',
                   help="the workflow config: JSON text (name, comparable_to_paper), or a YAML / JSON config file")
    p.add_argument("--out", required=True)


def run(args: argparse.Namespace) -> int:
    import json
    from pathlib import Path

    from ..fileio import atomic_write_text
    from ..provenance import git_commit
    from ..reporting.attention_report import read_summaries, render_attention_sink, render_calibration
    from ..schema import config_arg

    config = config_arg(args.config)
    if args.sink:
        text = render_attention_sink(read_summaries(args.sink), config, Path(args.out), commit=git_commit())
    else:
        published = {}
        for item in args.published:
            name, sep, value = item.partition("=")
            if not sep or not name:
                raise ValueError(f"--published {item!r} is not NAME=TOP1")
            published[name] = None if value.strip().lower() in ("", "null", "none") else float(value)
        evaluations = [json.loads(Path(p).read_text()) for p in args.calibration]
        text = render_calibration(evaluations, published, config, commit=git_commit())
    atomic_write_text(args.out, text)
    print(f"wrote {args.out}")
    return 0
