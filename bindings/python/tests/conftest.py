"""Which viz the tests import. From a checkout, the package beside them (with the
libviz that VIZ_LIBRARY or cargo's target/ names). With VIZ_TEST_INSTALLED=1, the
installed package, which must load the libviz it bundles: scripts/packages.sh runs
the suite that way from a fresh venv."""

import os
import pathlib
import sys

SOURCE = pathlib.Path(__file__).resolve().parents[1]

if os.environ.get("VIZ_TEST_INSTALLED") == "1":
    import viz  # noqa: E402
    from viz import _native  # noqa: E402

    package = pathlib.Path(viz.__file__).resolve().parent
    library = pathlib.Path(_native._path).resolve()
    assert SOURCE not in package.parents, f"imported viz from the source tree: {package}"
    assert library.parent == package, f"viz loaded {library}, not the libviz its package bundles"
else:
    sys.path.insert(0, str(SOURCE))
