"""KITTI split lists: fetch the public Monodepth2 lists or copy them from a local folder (the format and
its parser live in `semdepth_ros.kitti_split`, which eval-bag reads too).

The lists are third-party data the project does not ship; users download them once (or point at a
copy they already have) and pass the file path to the dataset.
"""
from __future__ import annotations

import shutil
import urllib.request
from pathlib import Path

# Folder of the split lists in the public Monodepth2 repository; a split is "<url>/<name>/<file>".
MONODEPTH2_SPLITS_URL = "https://raw.githubusercontent.com/nianticlabs/monodepth2/master/splits"

SPLIT_FILES: dict[str, tuple[str, ...]] = {
    "eigen_zhou": ("train_files.txt", "val_files.txt"),
    "eigen_full": ("train_files.txt", "val_files.txt"),
    "eigen": ("test_files.txt",),
    "eigen_benchmark": ("test_files.txt",),
}


def fetch_split(name: str, dest: str | Path, url: str | Path | None = None) -> Path:
    """Put the files of split ``name`` under ``<dest>/<name>/`` and return that folder.

    ``url`` is the folder that holds ``<name>/<file>``: a local directory (copied), or any URL urllib
    opens (``https://``, ``file://``); default :data:`MONODEPTH2_SPLITS_URL`. Files already present
    in ``dest`` are kept, so repeated runs do not touch the network.
    """
    if name not in SPLIT_FILES:
        raise ValueError(f"unknown split {name!r}; known splits: {', '.join(sorted(SPLIT_FILES))}")
    source = str(url) if url is not None else MONODEPTH2_SPLITS_URL
    local = Path(source) if Path(source).is_dir() else None
    target_dir = Path(dest) / name
    target_dir.mkdir(parents=True, exist_ok=True)
    for filename in SPLIT_FILES[name]:
        target = target_dir / filename
        if target.is_file():
            continue
        partial = target.with_suffix(".part")
        if local is not None:
            shutil.copyfile(local / name / filename, partial)
        else:
            file_url = f"{source.rstrip('/')}/{name}/{filename}"
            try:
                with urllib.request.urlopen(file_url, timeout=60) as response, open(partial, "wb") as out:
                    shutil.copyfileobj(response, out)
            except OSError as error:
                partial.unlink(missing_ok=True)
                raise OSError(f"could not download {file_url} ({error}); download it elsewhere and pass "
                              f"the local folder as url") from error
        partial.replace(target)
    return target_dir
