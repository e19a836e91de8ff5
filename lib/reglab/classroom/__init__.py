"""Helpers for the class notebooks (``notebooks/class/``): small data, quick sweeps, Korean plots.

The class notebooks show one regularization technique each in well under a minute. They stay
thin: every loop lives here, and they call everything as ``classroom.<name>``.

* :mod:`.data` — :func:`load_class_data`: a small subset of the flower photos (``$FLOWERS_DIR``
  or ``data/flowers``) or, when there are none, a synthetic stand-in that is made hard on
  purpose (grey + pixel noise), so that a small model can overfit it as it does the real
  photos; :func:`with_train_count`: the same dataset with fewer training photos (same
  validation set); :func:`find_photo_dir`, :func:`class_synthetic_dir`; :func:`class_label`
  (a class name in Korean with the English in parentheses).
* :mod:`.train` — :func:`train_quietly`, :func:`sweep`: train one model or one model per
  parameter value; :func:`final_metrics`, :func:`summary_lines`; :func:`seed_spread`, :func:`spread_lines`: a
  comparison over several seeds beside its seed-to-seed spread.
* :mod:`.stats` — :func:`activation_stats`: per-channel mean and std before and after every
  ``batch_normal`` layer, in evaluation and in training mode, without changing the model;
  :func:`bn_stats_lines`, :func:`inactive_units`, :func:`weight_share`;
  :func:`accuracy_by_mode`: accuracy with dropout and noise on and off; :func:`outputs_by_mode`:
  one photo's outputs in training mode (several draws) and in evaluation mode;
  :func:`live_weight_share`: near-zero weights among the live units' and among all;
  :func:`layer_inputs`: the values one layer receives.
* :mod:`.plots` — plots with Korean labels: :func:`plot_curves`, :func:`plot_overfitting`,
  :func:`plot_weight_hists`, :func:`plot_near_zero`, :func:`plot_bn_stats`,
  :func:`plot_value_hists`, :func:`plot_mode_outputs`, :func:`show_noisy_photos`; :func:`new_figure` and :func:`show` (explicit Figures, displayed
  as PNG), all under the process-wide :data:`FIGURE_LOCK`.
* :mod:`.widgets` — :func:`control_panel`: ipywidgets controls plus a run button; the callback
  draws into the panel (holding :data:`FIGURE_LOCK`, since it may run on another thread than
  the cells) and its status says "오류" with the message when the run fails. Nothing waits for
  input, so papermill and nbval run the notebooks top to bottom.

Every random draw is seeded: the subset and split (``seed``), the synthetic photos (fixed
seeds) and the models (``Model(..., seed=...)``).
"""

from .data import (CLASS_SYNTHETIC_PER_CLASS, class_label, class_synthetic_dir, find_photo_dir,
                   load_class_data, with_train_count)
from .plots import (FIGURE_LOCK, new_figure, plot_bn_stats, plot_curves, plot_near_zero,
                    plot_mode_outputs, plot_overfitting, plot_value_hists, plot_weight_hists, show, show_noisy_photos)
from .stats import (accuracy_by_mode, activation_stats, bn_stats_lines, inactive_units,
                    layer_inputs, live_weight_share, outputs_by_mode, weight_share)
from .train import (final_metrics, seed_spread, spread_lines, summary_lines, sweep,
                    train_quietly)
from .widgets import control_panel

__all__ = ["CLASS_SYNTHETIC_PER_CLASS", "class_synthetic_dir", "find_photo_dir", "load_class_data",
           "with_train_count", "train_quietly", "sweep", "final_metrics", "summary_lines",
           "activation_stats", "bn_stats_lines", "inactive_units", "weight_share", "accuracy_by_mode",
           "live_weight_share", "layer_inputs", "plot_value_hists",
           "plot_curves", "plot_overfitting", "plot_weight_hists", "plot_near_zero",
           "plot_bn_stats", "show_noisy_photos", "new_figure", "show", "class_label",
           "FIGURE_LOCK", "control_panel", "outputs_by_mode", "plot_mode_outputs",
           "seed_spread", "spread_lines"]
