"""MkDocs hook: one tutorial page per notebook, generated at build time from ``notebooks/*.py``.

The notebooks' percent-format scripts are the one source: jupytext reads each script into cells, markdown cells
become the page's prose and code cells become Python code blocks, in order.  Nothing is written under ``docs/``;
the pages exist only in the built site, at ``tutorials/<notebook>.md``.  ``mkdocs.yml`` lists them in the nav,
and its ``validation.nav.omitted_files: warn`` makes the strict build fail on a notebook left out.
"""

from __future__ import annotations

from pathlib import Path

import jupytext
from mkdocs.config.defaults import MkDocsConfig
from mkdocs.structure.files import File, Files

SECTION = "tutorials"


def _notebooks(config: MkDocsConfig) -> list[Path]:
    return sorted((Path(config.config_file_path).parent / "notebooks").glob("*.py"))


def _run_note(script: Path) -> str:
    name = script.stem
    return (
        f'!!! info "This page is the notebook `notebooks/{name}.py`"\n'
        f"    Its cells, as they are in the repository (the paired `notebooks/{name}.ipynb` holds the same ones).\n"
        f"    Run it in Jupyter or VS Code with `notebooks/` as the working directory: it reads the datasets from\n"
        f"    `$IMGBENCH_DATA` (default `../../shared/datasets`), falls back to the embedded `digits` where they are\n"
        f"    missing, and writes under `notebooks/output/`. `IMGBENCH_NOTEBOOK_SMALL=1` makes every training short.\n"
    )


def notebook_markdown(script: Path) -> str:
    """The notebook ``script`` as a Markdown page: its markdown cells as they are, its code cells as code blocks.

    The note on how to run it goes after the first cell, the notebook's title.
    """
    blocks = []
    for cell in jupytext.read(script).cells:
        if cell.cell_type == "markdown":
            blocks.append(cell.source)
        elif cell.cell_type == "code" and cell.source.strip():
            blocks.append(f"```python\n{cell.source}\n```")
        if len(blocks) == 1:
            blocks.append(_run_note(script))
    return "\n\n".join(blocks) + "\n"


def on_files(files: Files, *, config: MkDocsConfig) -> Files:
    """Adds the generated tutorial pages to the site's files."""
    for script in _notebooks(config):
        files.append(File.generated(config, f"{SECTION}/{script.stem}.md", content=notebook_markdown(script)))
    return files
