"""Which ansible a Python environment has, read from its package metadata.

Finds a distribution's metadata as ``importlib.metadata`` does (the first ``<name>-*.dist-info``
or ``.egg-info`` along a path, names compared normalised; its Version header) without importing
``importlib.metadata``, which alone takes ~90 ms of CPU, nor ansible. The wizard imports this
module to read a virtualenv's site-packages itself; run as a script (``python -c`` with this
file's text, by the Python of an ``ansible-playbook``) it prints what that Python's sys.path
holds, or exits 3 when the path holds what it does not read (a zip, an extra distribution
finder). Plain Python that any ansible virtualenv's interpreter runs (the signatures' annotations
are strings, which Python 3.6 reads); no imports of the wizard's.
"""

import os
import sys

WANTED = ("ansible_core", "ansible_base", "ansible")


def norm(name: str) -> str:
    name = name.replace("-", "_").replace(".", "_")
    while "__" in name:
        name = name.replace("__", "_")
    return name


def version(place: str) -> "str | None":
    """The Version header of a .dist-info/.egg-info directory or an .egg-info file; None."""
    isdir = os.path.isdir(place)
    for path in [place + "/METADATA", place + "/PKG-INFO"] if isdir else [place]:
        try:
            with open(path, encoding="utf-8") as handle:
                text = handle.read()
        except OSError:
            continue
        for line in text.split("\n"):
            if not line.strip():
                break
            if line.startswith("Version:"):
                return line[8:].strip()
        break
    return None


def scan(paths: "list[str]") -> "str | None":
    """``"<core> <full>"`` as the probes print it ("<core> " without the collections package,
    " " without ansible); None when a path entry or a metadata file cannot be read here."""
    found: dict[str, str | None] = dict.fromkeys(WANTED)
    for directory in paths:
        try:
            names = os.listdir(directory or ".")
        except NotADirectoryError:
            return None
        except OSError:
            continue
        for entry in names:
            low = entry.lower()
            if not low.endswith((".dist-info", ".egg-info")):
                continue
            name = norm(low.rpartition(".")[0].partition("-")[0])
            if name in found and found[name] is None:
                found[name] = version(os.path.join(directory, entry))
                if found[name] is None:
                    return None
    core = found["ansible_core"] or found["ansible_base"]
    full = found["ansible"]
    return (core or full or "") + " " + (full or "")


if __name__ == "__main__":
    for finder in sys.meta_path:
        if (
            hasattr(finder, "find_distributions")
            and getattr(finder, "__name__", "") != "PathFinder"
        ):
            sys.exit(3)
    printed = scan(sys.path)
    if printed is None:
        sys.exit(3)
    print(printed)
