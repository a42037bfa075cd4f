"""Figures from bnlandscape run files (docs/hdf5_schema.md).

One module per figure family, each with importable functions that return matplotlib figures
and a thin command-line front (``python3 -m plots.<family> RUN.h5 ... --out DIR``):

- ``plots.runs``        loading run files, labels from ``config_toml``, grouping, seed averages
- ``plots.style``       colours, mean +- sd bands, saving PNG and SVG
- ``plots.training``    loss, accuracy, global and per-layer gradient norms (/train)
- ``plots.landscape``   the paper's Figure 4: loss landscape, gradient predictiveness,
                        beta-smoothness (/probes)
- ``plots.spectrum``    lambda_max against 2/lr, top-k eigenvalues, Hessian trace (/probes)
- ``plots.activations`` activation ridgelines (no BN, pre-BN, post-BN) and mean/std per layer
                        (/activations)
- ``plots.ics``         internal covariate shift, the paper's Figure 3 (/ics)
- ``plots.variants``    noisy BN and lp-normalisation, the paper's Figure 2 (/train)
- ``plots.surface``     loss surfaces around a checkpoint, Li et al. 2018 (/surface)
- ``plots.make_all``    every figure the given run files support

Use Debian's /usr/bin/python3 (h5py, numpy, matplotlib); the Agg backend is selected here.
"""

import os as _os

# Reading only: lets the figures be drawn while a run is still writing its file (see the
# README, "Reading while a run is going"). Never set this for a writer.
_os.environ.setdefault("HDF5_USE_FILE_LOCKING", "FALSE")

import matplotlib as _mpl  # noqa: E402

_mpl.use("Agg")

FAMILIES = ("training", "landscape", "spectrum", "activations", "ics", "variants", "surface")
