"""A table's Markdown rendered as an HTML page for the report."""

from cameval.logs import setup_logging
from cameval.report import write_markdown_html

setup_logging(snakemake.log[0])
write_markdown_html(snakemake.input.md, snakemake.output.html)
