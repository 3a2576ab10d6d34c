"""The audit matrix as a rich table (held-out sets × training sets); kept apart from the computation."""

from __future__ import annotations

from rich.table import Table


def audit_table(report: dict) -> Table:
    """Rows: held-out sets; columns: training sets; cells ``exact/ngram`` held-out items (red), "·" for none.

    Held-out sets are the rows because there are more of them: the table stays narrow enough for a terminal.
    """
    training = list(report["training"])
    near = bool(report["rules"].get("near_dedup"))
    table = Table(title="contamination audit: held-out items found in training data (exact/13-gram)",
                  caption="· = none; `bridge audit --fix` removes the flagged records from the training sets")
    table.add_column("held-out set")
    table.add_column("items", justify="right")
    for name in training:
        table.add_column(name.removeprefix("med_"), justify="right")
    cells = {(c["train"], c["heldout"]): c for c in report["matrix"]}
    for held, info in report["heldout"].items():
        row = [held, str(info["items"])]
        for name in training:
            cell = cells.get((name, held))
            row.append(f"[red]{cell['exact']}/{cell['ngram']}[/]" if cell else "[dim]·[/]")
        table.add_row(*row)
    table.add_section()
    table.add_row("[bold]training records[/]", "", *[str(i["records"]) for i in report["training"].values()])
    table.add_row("[bold]flagged records[/]", "",
                  *[str(i["contaminated_records"]) for i in report["training"].values()])
    if near:
        table.add_row("[bold]near-duplicates[/]", "",
                      *[str(i.get("near_duplicates", 0)) for i in report["training"].values()])
    return table
