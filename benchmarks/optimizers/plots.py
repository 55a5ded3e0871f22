"""PNG plots of mean normalized regret against evaluations: one file per function, one panel per dimension."""

import os

from benchmarks.optimizers.analysis import REGRET_FLOOR
from benchmarks.optimizers.optimizers import get

#: One fixed style per optimizer, so every plot reads the same way.
STYLES = {
    "random": {"color": "0.45", "linestyle": "--", "zorder": 5},
    "gf_classic": {"color": "tab:orange"},
    "gf_default": {"color": "tab:red", "linewidth": 2.4},
    "optuna_tpe": {"color": "tab:blue"},
    "optuna_nsga2": {"color": "tab:green"},
    "optuna_cmaes": {"color": "tab:purple"},
    "nevergrad_ngopt": {"color": "tab:brown"},
}


def plot_function(summary, function, dims, optimizers, batch, path):
    """Write ``path``: regret (log scale) against evaluations for ``function``, a panel per dimension."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    width = 4.6 * len(dims) + 2.0  # the legend sits at the right
    figure, axes = plt.subplots(1, len(dims), figsize=(width, 3.8), squeeze=False)
    for axis, dim in zip(axes[0], dims):
        for name in optimizers:
            curve = summary["curves"].get(f"{function}|{dim}|{name}")
            if not curve:
                continue
            evaluations = [batch * (index + 1) for index in range(len(curve))]
            axis.plot(evaluations, [max(value, REGRET_FLOOR) for value in curve], label=get(name).label,
                      **STYLES.get(name, {}))
        axis.set_yscale("log")
        axis.set_title(f"{function}, {dim:,} params")
        axis.set_xlabel("evaluations")
        axis.grid(True, which="both", alpha=0.3)
    axes[0][0].set_ylabel("mean normalized regret\n(random search's final best = 1)")
    legend = {}
    for axis in axes[0]:  # an optimizer may have run (or not failed) on some dimensions only
        for handle, label in zip(*axis.get_legend_handles_labels()):
            legend.setdefault(label, handle)
    figure.legend(list(legend.values()), list(legend), loc="center right", frameon=False)
    figure.tight_layout(rect=(0, 0, 1 - 2.0 / width, 1))
    figure.savefig(path, dpi=90)
    plt.close(figure)


def plot_all(summary, settings, out_dir, prefix):
    """One PNG per function; returns the paths written."""
    os.makedirs(out_dir, exist_ok=True)
    paths = []
    for function in settings["functions"]:
        path = os.path.join(out_dir, f"{prefix}_{function}.png")
        plot_function(summary, function, settings["dims"], settings["optimizers"], settings["batch"], path)
        paths.append(path)
    return paths
