"""KITTI split lists: parse them, and fetch the public Monodepth2 lists or copy them from a local folder.

The lists are third-party data the project does not ship; users download them once (or point at a
copy they already have) and pass the file path to the dataset.
"""
from __future__ import annotations

import shutil
import urllib.request
from dataclasses import dataclass
from pathlib import Path

# Folder of the split lists in the public Monodepth2 repository; a split is "<url>/<name>/<file>".
MONODEPTH2_SPLITS_URL = "https://raw.githubusercontent.com/nianticlabs/monodepth2/master/splits"

SPLIT_FILES: dict[str, tuple[str, ...]] = {
    "eigen_zhou": ("train_files.txt", "val_files.txt"),
    "eigen_full": ("train_files.txt", "val_files.txt"),
    "eigen": ("test_files.txt",),
    "eigen_benchmark": ("test_files.txt",),
}
SIDES = ("l", "r")


@dataclass(frozen=True)
class SplitEntry:
    """One line ``<date>/<drive>_sync <frame> <l|r>``."""

    folder: str
    frame: int
    side: str


def read_split(path: str | Path) -> list[SplitEntry]:
    """Parse a split file; malformed lines and empty files raise ValueError naming the file."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"split file not found: {path}")
    entries = []
    for number, line in enumerate(path.read_text().splitlines(), 1):
        fields = line.split()
        if not fields:
            continue
        if len(fields) != 3 or not fields[1].isdigit() or fields[2] not in SIDES:
            raise ValueError(f"{path}:{number}: expected '<date>/<drive>_sync <frame> <l|r>', got {line!r}")
        entries.append(SplitEntry(fields[0], int(fields[1]), fields[2]))
    if not entries:
        raise ValueError(f"split file {path} has no entries")
    return entries


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
