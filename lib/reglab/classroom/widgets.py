"""The controls of the class notebooks' "직접 해 보기" cells: ipywidgets plus a run button.

Nothing waits for input: the callback runs only when the button is pressed (or
``panel.press()`` is called), so papermill and nbval run the notebooks top to bottom.
"""

from __future__ import annotations

import time

from .plots import korean_pyplot

__all__ = ["control_panel"]


def control_panel(controls: dict, run, title: str = "", button: str = "실행"):
    """Sliders (or any ipywidgets) plus a run button; the results appear inside the panel.

    Parameters
    ----------
    controls : dict name -> ipywidgets widget
        Their ``.value`` are passed to ``run`` as keyword arguments.
    run : callable(**values)
        Trains and draws (``plt.show()`` or a returned Figure); called only when the button is
        pressed, never while the notebook is executed top to bottom.
    title : str
        Korean text above the controls (HTML allowed).

    Returns
    -------
    ipywidgets.VBox
        Display it (``display(panel)``, or as the cell's last value). ``panel.output`` is the
        ipywidgets.Output that receives the runs; ``panel.press()`` runs once as if clicked.
    """
    import ipywidgets as widgets
    from IPython.display import display

    btn = widgets.Button(description=button, button_style="primary", icon="play")
    status = widgets.HTML("")
    out = widgets.Output()

    def on_click(_=None):
        plt = korean_pyplot()
        values = {k: w.value for k, w in controls.items()}
        btn.disabled = True
        status.value = "<i>학습 중…</i>"
        t0 = time.perf_counter()
        try:
            with out:
                out.clear_output(wait=True)
                fig = run(**values)
                if fig is not None and hasattr(fig, "savefig"):
                    display(fig)
                    plt.close(fig)
                else:
                    plt.show()
            status.value = f"끝 ({time.perf_counter() - t0:.1f}초)"
        except Exception as exc:                 # show it in the panel, keep the UI alive
            status.value = f"<b>오류</b>: {type(exc).__name__}: {exc}"
            raise
        finally:
            btn.disabled = False

    btn.on_click(on_click)
    children = []
    if title:
        children.append(widgets.HTML(title))
    children += list(controls.values())
    children += [widgets.HBox([btn, status]), out]
    panel = widgets.VBox(children)
    panel.output = out
    panel.press = on_click
    return panel
