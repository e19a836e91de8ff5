"""Render a report: execute its notebook, then HTML, PDF and a PNG of page 1.

:func:`build_report` runs ``notebooks/chapter8_report.ipynb`` with papermill (kernel
``python3``, in the notebook's folder, ``runs_dir`` passed relative to that folder when it lies
in the checkout, else as an absolute path) and converts the
executed notebook to a self-contained HTML page; :func:`build_study_report` does the same with
``notebooks/study_report.ipynb`` and a ``study_dir``:

* code inputs, prompts and the ``parameters`` / ``injected-parameters`` cells are removed
  (cell tags + ``exclude_input``), stderr streams are dropped, figures are base64 PNGs;
* the page uses the template ``templates/reglab_report`` (JupyterLab's look without any script:
  no require.js, no MathJax, no mermaid), A4 ``@page`` rules and NanumGothic with fallbacks;
* **math is converted to MathML at build time** (:class:`MathMLRenderer`, with the pure-Python
  ``latex2mathml``). Browsers render MathML natively (Chromium/Chrome ≥ 109, Firefox, Safari),
  so the committed HTML shows the formulas offline, with no JavaScript and no copy of MathJax;
  each formula keeps its TeX source as a MathML annotation. In Jupyter the notebook's ``$$…$$``
  are rendered by Jupyter's own MathJax as usual.

If Chromium is on PATH (``chromium``, ``chromium-browser``, ``google-chrome``), the HTML is
printed to PDF headlessly. The print copy embeds the NanumGothic TTFs of the installed
``koreanize-matplotlib`` wheel as ``@font-face`` data, so the PDF has Korean glyphs even on a
machine without ``fonts-nanum``. ``pdftoppm`` (poppler-utils) then draws page 1 as a PNG.
Every output is written to a temporary name in ``out_dir`` and renamed into place.
"""

from __future__ import annotations

import base64
import contextlib
import html
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from ..fileio import atomic_path, write_text_atomic
from ..paths import notebook_path
from ..pipeline.notebooks import run_papermill

__all__ = ["build_report", "build_study_report", "ReportError", "ReportOutputs", "export_html",
           "print_pdf", "page_png", "find_chromium", "tex_to_mathml", "report_notebook",
           "TEMPLATES_DIR", "REPORT_NAME", "STUDY_REPORT_NAME"]

TEMPLATES_DIR = Path(__file__).resolve().parent / "templates"
TEMPLATE_NAME = "reglab_report"
REPORT_NAME = "chapter8_report"
REPORT_TITLE = "8장 정규화 실험 보고서"
STUDY_REPORT_NAME = "study_report"
STUDY_REPORT_TITLE = "8장 정규화 반복 실험 보고서"
CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")


class ReportError(RuntimeError):
    """The report could not be built (the notebook failed, or the PDF printer did)."""


def report_notebook(name: str = f"{REPORT_NAME}.ipynb") -> Path:
    """``notebooks/<name>`` of the checkout (:func:`reglab.paths.notebook_path`)."""
    try:
        return notebook_path(name)
    except FileNotFoundError as exc:
        raise ReportError(str(exc)) from None


@dataclass
class ReportOutputs:
    """Paths of what :func:`build_report` wrote (None where a step was skipped)."""

    notebook: Path
    html: Path
    pdf: Path | None = None
    png: Path | None = None
    seconds: dict = field(default_factory=dict)
    messages: list = field(default_factory=list)


# ----------------------------------------------------------------------------- math
# latex2mathml quirks: ``\sim`` becomes an <mi>~</mi>.
_TEX_FIXES = ((re.compile(r"\\sim(?![A-Za-z])"), r"\\thicksim"),)


def tex_to_mathml(tex: str, display: str = "inline") -> str:
    """MathML for a TeX formula, with the TeX kept as an ``application/x-tex`` annotation.

    Falls back to the escaped TeX in a ``<code class="tex">`` if the converter fails.
    """
    from latex2mathml.converter import convert

    src = tex.strip()
    fixed = src
    for pat, rep in _TEX_FIXES:
        fixed = pat.sub(rep, fixed)
    try:
        mml = convert(fixed, display=display)
    except Exception:  # noqa: BLE001 - any converter failure: show the source instead
        return f'<code class="tex">{html.escape(src)}</code>'
    m = re.match(r"(<math\b[^>]*>)(.*)(</math>)\s*$", mml, re.S)
    if not m:
        return mml
    ann = f'<annotation encoding="application/x-tex">{html.escape(src)}</annotation>'
    return f"{m.group(1)}<semantics>{m.group(2)}{ann}</semantics>{m.group(3)}"


def _mathml_renderer_class():
    from nbconvert.filters.markdown_mistune import IPythonRenderer

    class MathMLRenderer(IPythonRenderer):
        """nbconvert's markdown renderer with TeX math turned into MathML."""

        def block_math(self, body: str) -> str:
            return tex_to_mathml(body, "block")

        def inline_math(self, body: str) -> str:
            return tex_to_mathml(body, "inline")

        def latex_environment(self, name: str, body: str) -> str:
            return tex_to_mathml(f"\\begin{{{name}}}{body}\\end{{{name}}}", "block")

    return MathMLRenderer


def _exporter_class():
    from jinja2 import pass_context
    from nbconvert import HTMLExporter
    from nbconvert.filters.markdown_mistune import MarkdownWithMath
    from nbconvert.preprocessors import Preprocessor

    renderer_cls = _mathml_renderer_class()

    class DropStderrPreprocessor(Preprocessor):
        """Remove stderr streams (warnings) from outputs; the executed .ipynb keeps them."""

        def preprocess_cell(self, cell, resources, index):
            if cell.get("cell_type") == "code":
                cell.outputs = [o for o in cell.get("outputs", [])
                                if not (o.get("output_type") == "stream"
                                        and o.get("name") == "stderr")]
            return cell, resources

    class ReportHTMLExporter(HTMLExporter):
        """HTMLExporter with the report template and MathML math."""

        @pass_context
        def markdown2html(self, context, source):
            cell = context.get("cell", {})
            renderer = renderer_cls(
                escape=False, attachments=cell.get("attachments", {}),
                embed_images=self.embed_images,
                path=context.get("resources", {}).get("metadata", {}).get("path", ""),
                anchor_link_text=self.anchor_link_text,
                exclude_anchor_links=self.exclude_anchor_links, **self.lexer_options)
            return MarkdownWithMath(renderer=renderer).render(source)

    return ReportHTMLExporter, DropStderrPreprocessor


def _exporter():
    from traitlets.config import Config

    cls, drop = _exporter_class()
    c = Config()
    c.TagRemovePreprocessor.enabled = True
    c.TagRemovePreprocessor.remove_cell_tags = {"parameters", "injected-parameters",
                                                "remove-cell"}
    c.TagRemovePreprocessor.remove_input_tags = {"remove-input", "hide-input"}
    c.CoalesceStreamsPreprocessor.enabled = True
    c.TemplateExporter.exclude_input = True
    c.TemplateExporter.exclude_input_prompt = True
    c.TemplateExporter.exclude_output_prompt = True
    c.HTMLExporter.embed_images = True
    c.HTMLExporter.language_code = "ko"
    c.HTMLExporter.anchor_link_text = ""
    exp = cls(config=c, template_name=TEMPLATE_NAME,
              extra_template_basedirs=[str(TEMPLATES_DIR)])
    exp.register_preprocessor(drop(), enabled=True)
    return exp


def export_html(executed_notebook, title: str = REPORT_TITLE) -> str:
    """The report HTML (a string) for an executed notebook (path or NotebookNode)."""
    import nbformat

    nb = executed_notebook
    if not hasattr(nb, "cells"):
        nb = nbformat.read(str(executed_notebook), as_version=4)
    nb = nbformat.from_dict(nb)          # a copy: the caller's notebook is not changed
    nb.metadata["title"] = title
    body, _ = _exporter().from_notebook_node(nb)
    return body


# ----------------------------------------------------------------------------- PDF / PNG
def find_chromium() -> str | None:
    """The first Chromium/Chrome on PATH (``$REGLAB_CHROMIUM`` overrides), or None."""
    env = os.environ.get("REGLAB_CHROMIUM")
    if env:
        return shutil.which(env) or (env if Path(env).exists() else None)
    for name in CHROMIUM_NAMES:
        path = shutil.which(name)
        if path:
            return path
    return None


def _font_face_css() -> str:
    """@font-face rules embedding the packaged NanumGothic TTFs (regular and bold)."""
    from ..plots import korean_font_files

    files = {f.name: f for f in korean_font_files()}
    rules = []
    for fname, weight in (("NanumGothic.ttf", 400), ("NanumGothicBold.ttf", 700)):
        f = files.get(fname)
        if f is None:
            continue
        b64 = base64.b64encode(f.read_bytes()).decode("ascii")
        for family in ("NanumGothic", "Nanum Gothic"):
            rules.append(f'@font-face {{ font-family: "{family}"; font-weight: {weight}; '
                         f'src: url(data:font/ttf;base64,{b64}) format("truetype"); }}')
    return "\n".join(rules)


def print_pdf(html_text: str, pdf_path, chromium: str | None = None,
              timeout: float = 240) -> Path:
    """Print HTML (a string) to ``pdf_path`` with headless Chromium (atomically)."""
    chromium = chromium or find_chromium()
    if not chromium:
        raise ReportError("Chromium not found on PATH (chromium, chromium-browser, google-chrome)")
    pdf_path = Path(pdf_path)
    fonts = _font_face_css()
    if fonts:
        html_text = html_text.replace("</head>", f"<style>\n{fonts}\n</style>\n</head>", 1)
    with tempfile.TemporaryDirectory(prefix="reglab-pdf-") as tmp:
        tmp = Path(tmp)
        page = tmp / "print.html"
        page.write_text(html_text, encoding="utf-8")
        profile = tmp / "chromium-profile"
        out = tmp / "out.pdf"
        cmd = [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
               "--disable-background-networking", "--disable-component-update",
               "--disable-sync", "--disable-extensions", f"--user-data-dir={profile}",
               "--no-pdf-header-footer", "--virtual-time-budget=10000",
               f"--print-to-pdf={out}", page.as_uri()]
        try:
            proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout,
                                  stdin=subprocess.DEVNULL)
        except subprocess.TimeoutExpired as exc:
            raise ReportError(f"Chromium did not finish printing the PDF in {timeout:.0f} s") \
                from exc
        if not out.exists() or out.stat().st_size == 0 or out.read_bytes()[:5] != b"%PDF-":
            tail = "\n".join((proc.stderr or "").strip().splitlines()[-8:])
            raise ReportError(f"Chromium wrote no PDF (exit code {proc.returncode}):\n{tail}")
        with atomic_path(pdf_path) as dst:
            shutil.copyfile(out, dst)
    return pdf_path


def page_png(pdf_path, png_path, resolution: int = 60) -> Path:
    """Page 1 of a PDF as PNG with ``pdftoppm -r 60 -png -f 1 -l 1`` (atomically)."""
    exe = shutil.which("pdftoppm")
    if not exe:
        raise ReportError("pdftoppm not found (Debian package poppler-utils)")
    png_path = Path(png_path)
    with tempfile.TemporaryDirectory(prefix="reglab-png-") as tmp:
        prefix = Path(tmp) / "page"
        proc = subprocess.run([exe, "-r", str(resolution), "-png", "-f", "1", "-l", "1",
                               "-singlefile", str(pdf_path), str(prefix)],
                              capture_output=True, text=True, timeout=120)
        made = prefix.with_suffix(".png")
        if proc.returncode != 0 or not made.exists():
            raise ReportError(f"pdftoppm failed (exit code {proc.returncode}): "
                              f"{proc.stderr.strip()}")
        with atomic_path(png_path) as dst:
            shutil.copyfile(made, dst)
    return png_path


# ----------------------------------------------------------------------------- execute
def execute_notebook(runs_dir, output_path, profiles=None, notebook=None,
                     timeout: float = 900, param: str = "runs_dir", extra=None,
                     output_name: str | None = None):
    """Run the report notebook with papermill; returns the executed NotebookNode.

    ``runs_dir`` is passed as the notebook parameter named ``param``, relative to the notebook's
    folder when it lies beside it (:func:`_seen_from`), and so are the ``*_dir`` values of
    ``extra``, which holds further parameters (e.g. the chapter report's ``study_dir``). The
    executed notebook's papermill metadata names the notebooks by file name (``output_name``
    for the output, when it is written under a temporary name).

    Raises
    ------
    ReportError
        If a cell fails; the failed notebook is kept in a temporary folder (path in the message).
    """
    import papermill as pm

    notebook = Path(notebook) if notebook else report_notebook()
    if not notebook.exists():
        raise ReportError(f"report notebook not found: {notebook}")
    params = {param: _seen_from(notebook.parent, runs_dir)}
    if profiles is not None:
        params["profiles"] = list(profiles)
    params.update({k: _seen_from(notebook.parent, v) if k.endswith("_dir") and v else v
                   for k, v in (extra or {}).items()})
    output_path = Path(output_path)
    try:
        nb = run_papermill(notebook, output_path, parameters=params, kernel_name="python3",
                           cwd=notebook.parent, log_output=False,
                           request_save_on_cell_execute=False, execution_timeout=timeout)
    except pm.PapermillExecutionError as exc:
        keep = Path(tempfile.mkdtemp(prefix="reglab-report-failed-")) / notebook.name
        with contextlib.suppress(OSError):
            shutil.copyfile(output_path, keep)
        raise ReportError(f"the report notebook failed at cell In [{exc.exec_count}]: "
                          f"{exc.ename}: {exc.evalue}\n(executed notebook kept at {keep})") \
            from None
    # papermill records the paths it was given; keep the notebook's names, not this machine's
    meta = nb.metadata.get("papermill", {})
    meta["input_path"], meta["output_path"] = notebook.name, output_name or output_path.name
    import nbformat
    nbformat.write(nb, str(output_path))
    return nb


def _seen_from(folder: Path, path) -> str:
    """``path`` as the notebook running in ``folder`` reads it: relative when it lies in the
    folder's parent (``../reports/runs`` from a checkout's ``notebooks/``), so the executed
    notebook names no folder of the machine; else absolute."""
    target = Path(path).resolve()
    try:
        rel = Path(os.path.relpath(target, Path(folder).resolve()))
    except ValueError:                       # another drive (Windows)
        return str(target)
    return rel.as_posix() if rel.parts[:2].count("..") < 2 else str(target)


# ----------------------------------------------------------------------------- build
def build_report(runs_dir, out_dir="reports", pdf: bool = True, png: bool = True,
                 profiles=None, notebook=None, log=None, name: str = REPORT_NAME,
                 title: str = REPORT_TITLE, param: str = "runs_dir",
                 study_dir=None) -> ReportOutputs:
    """Execute the report notebook on ``runs_dir`` and write the report into ``out_dir``.

    ``study_dir`` is the study folder whose seeds the chapter report quotes beside its single
    runs (None or a folder without seeds: the report says every comparison is one run).

    Writes ``chapter8_report.ipynb`` (executed) and ``chapter8_report.html``; with ``pdf`` and
    Chromium on PATH also ``chapter8_report.pdf``, and with ``png`` (and pdftoppm)
    ``chapter8_report_page1.png``. Without Chromium only the HTML is written and a message says
    so. ``log`` (default: print to stderr) receives progress messages.

    Another report notebook (``notebook``) is rendered the same way under the file stem
    ``name`` with the HTML ``title``; its results folder is passed as the parameter ``param``
    (the study report: :func:`build_study_report`).

    Raises
    ------
    ReportError
        If the notebook fails or Chromium/pdftoppm fail (not if they are absent).
    """
    if log is None:
        def log(msg):
            print(msg, file=sys.stderr, flush=True)
    notebook = Path(notebook) if notebook else report_notebook()
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    runs_dir = Path(runs_dir)
    if not runs_dir.is_dir():
        log(f"warning: results folder {runs_dir} does not exist; the report will say "
            "\"결과 없음\" for every run")
    out = ReportOutputs(notebook=out_dir / f"{name}.ipynb", html=out_dir / f"{name}.html")
    t0 = time.perf_counter()
    log(f"report: executing {notebook.name} on {runs_dir}")
    with atomic_path(out.notebook) as tmp_nb:
        extra = None
        if param == "runs_dir":
            extra = {"study_dir": str(Path(study_dir).resolve()) if study_dir else ""}
        nb = execute_notebook(runs_dir, tmp_nb, profiles=profiles, notebook=notebook,
                              param=param, extra=extra, output_name=out.notebook.name)
    out.seconds["execute"] = time.perf_counter() - t0

    t1 = time.perf_counter()
    html_text = export_html(nb, title)
    write_text_atomic(out.html, html_text)
    out.seconds["html"] = time.perf_counter() - t1
    log(f"report: wrote {out.html}")

    if pdf:
        chromium = find_chromium()
        if chromium is None:
            msg = ("report: Chromium not found on PATH (chromium, chromium-browser, "
                   "google-chrome): HTML only, no PDF. Install it with "
                   "`apt-get install chromium poppler-utils fonts-nanum`.")
            out.messages.append(msg)
            log(msg)
        else:
            t2 = time.perf_counter()
            out.pdf = print_pdf(html_text, out_dir / f"{name}.pdf", chromium)
            out.seconds["pdf"] = time.perf_counter() - t2
            log(f"report: wrote {out.pdf}")
            if png:
                if shutil.which("pdftoppm") is None:
                    msg = "report: pdftoppm not found (poppler-utils): no PNG of page 1."
                    out.messages.append(msg)
                    log(msg)
                else:
                    out.png = page_png(out.pdf, out_dir / f"{name}_page1.png")
                    log(f"report: wrote {out.png}")
    out.seconds["total"] = time.perf_counter() - t0
    return out


def build_study_report(study_dir, out_dir="reports", pdf: bool = True, png: bool = True,
                       log=None) -> ReportOutputs:
    """Render ``study_report.ipynb/.html`` (and ``.pdf``, ``_page1.png``) into ``out_dir`` from
    the study results in ``study_dir`` (written by ``python -m reglab study``), with
    :func:`build_report`."""
    return build_report(study_dir, out_dir, pdf=pdf, png=png,
                        notebook=report_notebook(f"{STUDY_REPORT_NAME}.ipynb"), log=log,
                        name=STUDY_REPORT_NAME, title=STUDY_REPORT_TITLE, param="study_dir")
