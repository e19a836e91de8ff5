"""Command line for the data: ``python -m reglab data fetch`` and ``python -m reglab data info``."""

from __future__ import annotations

import argparse
import sys

__all__ = ["add_data_parser", "main"]


def _fetch(args) -> int:
    from .fetch import fetch_flowers
    progress = False if args.no_progress else None
    fetch_flowers(args.url, args.dest, force=args.force, min_photos=args.min_photos,
                  keep_archive=args.keep_archive, progress=progress)
    return 0


def _info(args) -> int:
    from .dataset import FlowersDataset
    progress = False if args.no_progress else None
    ds = FlowersDataset(args.resolution, list(args.resolution) + [3], args.path, seed=args.seed,
                        max_samples=args.max_samples,
                        cache_dir=False if args.no_cache else args.cache_dir,
                        resample=args.resample, progress=progress)
    counts = ", ".join(f"{k} {v}" for k, v in ds.class_counts().items())
    if ds.cache_file is None:
        cache = "(not cached)"
    else:
        cache = f"{ds.cache_file} ({'loaded' if ds.from_cache else 'written'})"
    print(f"photos:  {ds.path}")
    print(f"classes: {counts}")
    print(f"total:   {len(ds)} photos ({len(ds.skipped)} skipped)")
    print(f"split:   train {ds.train_count}, validation {ds.validate_count}, "
          f"test {ds.test_count} (seed {args.seed})")
    print(f"images:  {ds.resolution[0]}x{ds.resolution[1]} RGB uint8, resample {ds.resample}")
    print(f"cache:   {cache}")
    print(f"dataset: {ds}")
    return 0


def _default_fetch_dest() -> str:
    from ..paths import project_root, user_photo_dir
    root = project_root()
    return str(root / "data" if root is not None else user_photo_dir().parent)


def add_data_parser(subparsers) -> argparse.ArgumentParser:
    """Register ``data fetch`` and ``data info`` on an argparse ``subparsers`` object.

    The leaf parsers set ``func`` (called with the parsed namespace, returns an exit code).
    """
    from .fetch import FLOWERS_URL
    from .images import RESAMPLE_NAMES
    data = subparsers.add_parser("data", help="get and inspect the flower photos",
                                 description="Get and inspect the flower photos.")
    sub = data.add_subparsers(dest="data_command", metavar="{fetch,info}", required=True)

    f = sub.add_parser("fetch", help="download the TensorFlow flower photos (into data/flowers "
                       "of the checkout, else the user data folder)",
                       description="Download the public TensorFlow flower_photos archive, "
                       "check it and install it as <dest>/flowers.")
    f.add_argument("--url", default=FLOWERS_URL, help="archive URL (default: %(default)s)")
    f.add_argument("--dest", default=None,
                   help="folder that receives flowers/ (default: the checkout's data/, else "
                   f"the user data folder; here {_default_fetch_dest()})")
    f.add_argument("--force", action="store_true", help="replace existing photos")
    f.add_argument("--min-photos", type=int, default=3000,
                   help="fewest photos the archive must hold (default: %(default)s)")
    f.add_argument("--keep-archive", action="store_true", help="keep the downloaded .tgz")
    f.add_argument("--no-progress", action="store_true", help="no progress bar")
    f.set_defaults(func=_fetch)

    i = sub.add_parser("info", help="where the photos are, counts, split sizes, cache file",
                       description="Load the photos like FlowersDataset and describe them.")
    i.add_argument("--path", default=None, help="photo folder (default: $FLOWERS_DIR, "
                   "./data/flowers, the checkout's data/flowers, then the user data folder's "
                   "flowers)")
    i.add_argument("--resolution", type=int, nargs=2, default=[96, 96], metavar=("H", "W"))
    i.add_argument("--resample", choices=RESAMPLE_NAMES, default="bicubic")
    i.add_argument("--seed", type=int, default=1234)
    i.add_argument("--max-samples", type=int, default=0)
    i.add_argument("--cache-dir", default=None)
    i.add_argument("--no-cache", action="store_true")
    i.add_argument("--no-progress", action="store_true", help="no progress bar")
    i.set_defaults(func=_info)
    return data


def run(args) -> int:
    """Call ``args.func`` and turn expected failures into a one-line error and exit code 1."""
    from .fetch import FetchError
    try:
        return int(args.func(args) or 0)
    except (FileNotFoundError, FetchError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1


def main(argv=None) -> int:
    """``reglab data ...`` on its own (``python -m reglab.data.cli data info``)."""
    parser = argparse.ArgumentParser(prog="reglab")
    add_data_parser(parser.add_subparsers(dest="command", required=True))
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
