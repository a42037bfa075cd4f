"""Figures from bnlandscape run files (docs/hdf5_schema.md).

Layers, each importing only the ones above it in this list (tests/plots/test_imports.py checks
it); importing any of them changes nothing outside the package:

- ``plots.schema``      the HDF5 names the readers use (groups, datasets, attributes)
- ``plots.runs``        reading run files: attributes, configuration from ``config_toml``, datasets
- ``plots.grouping``    seed groups, comparison sets, labels and colours, seed averages
- ``plots.style``       the package's look, seed bands, legends, saving PNG and SVG, SkipFigure
- figure families, each with ``FAMILY`` and ``plan(runs, notice, context)``:
  ``plots.training``    loss, accuracy, global and per-layer gradient norms (/train)
  ``plots.landscape``   the paper's Figure 4: loss landscape, gradient predictiveness,
                        beta-smoothness (/probes)
  ``plots.spectrum``    lambda_max against 2/lr, top-k eigenvalues, Hessian trace, density,
                        per-layer lambda_max (/probes, /density)
  ``plots.activations`` activation ridgelines (no BN, pre-BN, post-BN) and mean/std per layer
                        (/activations)
  ``plots.ics``         internal covariate shift, the paper's Figure 3 (/ics)
  ``plots.variants``    noisy BN and lp-normalisation, the paper's Figure 2 (/train)
  ``plots.surface``     loss surfaces around a checkpoint, Li et al. 2018 (/surface)
- ``plots.registry``    the families by name; ``make_all`` draws every figure the files support
- ``plots.cli``         the command line, ``python3 -m plots`` (plots/__main__.py); the only
                        module that sets anything for the process (``HDF5_USE_FILE_LOCKING``,
                        the Agg backend). plots/make_all.py is the same command under its old name.

Use Debian's /usr/bin/python3 (h5py, numpy, matplotlib).
"""
