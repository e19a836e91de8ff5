"""The controls of the class notebooks' "직접 해 보기" cells: ipywidgets plus a run button.

Nothing waits for input: the callback runs only when the button is pressed (or
``panel.press()`` is called), so papermill and nbval run the notebooks top to bottom.

The callback may run on another thread than the notebook's cells (JupyterLab 4.6 sends widget
messages to a kernel subshell with ipykernel 7) and even while a cell is still drawing, so a
run and the display of its figure hold :data:`reglab.classroom.plots.FIGURE_LOCK`, and the
figure is displayed explicitly into the panel's own output area.
"""

from __future__ import annotations

import html
import sys
import time
import traceback

from .plots import FIGURE_LOCK

__all__ = ["control_panel"]


def _show_traceback(exc: BaseException) -> None:
    """The traceback of ``exc``, as IPython shows it when there is a shell, else on stderr."""
    try:
        from IPython import get_ipython
        shell = get_ipython()
    except ImportError:                          # pragma: no cover - IPython is a dependency
        shell = None
    if shell is not None:
        shell.showtraceback((type(exc), exc, exc.__traceback__))
    else:
        traceback.print_exception(type(exc), exc, exc.__traceback__, file=sys.stderr)


def control_panel(controls: dict, run, title: str = "", button: str = "실행"):
    """Sliders (or any ipywidgets) plus a run button; the results appear inside the panel.

    Parameters
    ----------
    controls : dict name -> ipywidgets widget
        Their ``.value`` are passed to ``run`` as keyword arguments.
    run : callable(**values)
        Trains and returns a :class:`matplotlib.figure.Figure` (or an Axes), which the panel
        displays; called only when the button is pressed, never while the notebook is executed
        top to bottom. A ``run`` that returns None and draws with pyplot is shown with
        ``plt.show()``.
    title : str
        Korean text above the controls (HTML allowed).
    button : str
        The button's label.

    Returns
    -------
    ipywidgets.VBox
        Display it (``display(panel)``, or as the cell's last value). ``panel.output`` is the
        ipywidgets.Output that receives the runs, ``panel.status`` the label beside the button
        ("끝 (… 초)" after a run, "오류: …" after a failed one, whose traceback goes into
        ``panel.output``), ``panel.button`` the button; ``panel.press()`` runs once as if
        clicked and returns True if the run succeeded.
    """
    import ipywidgets as widgets
    from IPython.display import display

    btn = widgets.Button(description=button, button_style="primary", icon="play")
    status = widgets.HTML("")
    out = widgets.Output()

    def on_click(_=None) -> bool:
        values = {k: w.value for k, w in controls.items()}
        btn.disabled = True
        status.value = "<i>학습 중…</i>"
        t0 = time.perf_counter()
        error, ok = None, False
        try:
            # The Output context swallows exceptions raised inside it (it prints them into the
            # output area), so the failure is caught here, inside it, and remembered.
            with out:
                out.clear_output(wait=True)
                try:
                    with FIGURE_LOCK:
                        fig = run(**values)
                        fig = getattr(fig, "figure", fig)
                        if fig is not None and hasattr(fig, "savefig"):
                            display(fig)
                            if getattr(fig.canvas, "manager", None) is not None:
                                import matplotlib.pyplot as plt
                                plt.close(fig)  # made with pyplot: do not show it twice
                        else:
                            import matplotlib.pyplot as plt
                            plt.show()
                    ok = True
                except Exception as exc:         # shown in the panel; the UI stays alive
                    error = exc
                    _show_traceback(exc)
        finally:
            if ok:
                status.value = f"끝 ({time.perf_counter() - t0:.1f}초)"
            elif error is not None:
                status.value = (f"<b style='color:#b00'>오류</b>: "
                                f"{html.escape(type(error).__name__)}: {html.escape(str(error))}")
            else:
                status.value = "<b style='color:#b00'>오류</b>: 중단됨"
            btn.disabled = False
        return ok

    btn.on_click(on_click)
    children = []
    if title:
        children.append(widgets.HTML(title))
    children += list(controls.values())
    children += [widgets.HBox([btn, status]), out]
    panel = widgets.VBox(children)
    panel.output = out
    panel.status = status
    panel.button = btn
    panel.press = on_click
    return panel
