"""``python -m utils.teaching``: build labs, hand out per-student variants, grade a class.

    python -m utils.teaching build                      regenerate every lab from labs/source/
    python -m utils.teaching check                      exit 1 when a generated lab is stale
    python -m utils.teaching assign ROSTER.csv labs/00_warmup.ipynb OUT/ --secret-file SECRET
    python -m utils.teaching grade SUBMISSIONS/ --manifest OUT/manifest.csv --out REPORT/
                                   --secret-file SECRET [--language zh_CN]
                                   [--workers 2 | --scheduler tls://host:8786 --tls-ca-file CA
                                    --tls-cert CERT --tls-key KEY]

See the instructor's guide in the book for the whole workflow.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from utils.i18n import LANGUAGES, _, set_language
from utils.teaching import lab_builder


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m utils.teaching", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("build", help="regenerate student and solution labs")
    commands.add_parser("check", help="exit 1 when a generated lab is out of date")
    assign = commands.add_parser("assign", help="one variant of a lab per student")
    assign.add_argument("roster", help="CSV with a header line student_id,name")
    assign.add_argument("lab", help="the student notebook, e.g. labs/00_warmup.ipynb")
    assign.add_argument("out", help="folder for the variants and manifest.csv")
    assign.add_argument("--secret-file", required=True,
                        help="file holding the instructor's secret (at least 16 bytes)")
    assign.add_argument("-p", "--parameter", nargs=2, action="append", default=[],
                        metavar=("NAME", "JSON_VALUE"),
                        help="a parameter for the whole class, e.g. -p temperature 0.5")
    grade = commands.add_parser("grade", help="grade a folder of submissions")
    grade.add_argument("submissions", help="folder with STUDENT_ID/LAB.ipynb files")
    grade.add_argument("--manifest", required=True, help="the manifest.csv written by assign")
    grade.add_argument("--out", required=True, help="folder for gradebook.csv and report.html")
    grade.add_argument("--secret-file", required=True,
                       help="the secret given to assign: seeds of the hidden cases come from it")
    grade.add_argument("--language", choices=LANGUAGES, default="en",
                       help="the language of the report and of every check's message "
                            "(default en), whatever language the submissions were written in")
    grade.add_argument("--workers", type=int, default=2, help="local processes (default 2)")
    grade.add_argument("--scheduler",
                       help="a Dask scheduler's tls:// address, instead of local processes")
    for name in ("ca-file", "cert", "key"):
        grade.add_argument(f"--tls-{name}", help=f"TLS {name} for the scheduler (mutual TLS)")
    grade.add_argument("--allow-same-user", action="store_true",
                       help="where neither root nor user namespaces are available, run "
                            "submissions as your own user anyway (see the guide: unsafe)")
    grade.add_argument("--timeout", type=float, default=120.0,
                       help="seconds each submission may run, per phase (default 120)")
    grade.add_argument("--memory-mb", type=int, default=4096,
                       help="address-space limit per process in MiB (default 4096)")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command == "build":
        for path in lab_builder.build():
            print(f"wrote {path.relative_to(lab_builder.LABS_DIR.parent)}")
        return 0
    if args.command == "check":
        out_of_date = lab_builder.stale()
        for path in out_of_date:
            print(f"out of date: {path.relative_to(lab_builder.LABS_DIR.parent)} (run `make labs`)")
        return 1 if out_of_date else 0
    if args.command == "assign":
        from utils.teaching.variants import assign, read_roster, read_secret

        parameters = {name: json.loads(value) for name, value in args.parameter}
        variants = assign(read_roster(args.roster), args.lab, args.out,
                          read_secret(args.secret_file), parameters=parameters)
        print(f"wrote {len(variants)} variants and {Path(args.out) / 'manifest.csv'}")
        return 0
    return _grade(args)


def _security(args: argparse.Namespace):  # noqa: ANN202 - distributed is optional
    if args.scheduler is None:
        return None
    from distributed.security import Security

    return Security(tls_ca_file=args.tls_ca_file, tls_client_cert=args.tls_cert,
                    tls_client_key=args.tls_key, require_encryption=True)


def _grade(args: argparse.Namespace) -> int:
    from utils.teaching.grade import Limits, grade_submissions
    from utils.teaching.report import write_gradebook, write_html_report
    from utils.teaching.variants import read_manifest, read_secret

    set_language(args.language)
    out = Path(args.out)
    manifest = Path(args.manifest)
    start = time.perf_counter()
    rows = grade_submissions(args.submissions, read_manifest(manifest),
                             secret=read_secret(args.secret_file),
                             limits=Limits(timeout_s=args.timeout, memory_mb=args.memory_mb,
                                           allow_same_user=args.allow_same_user),
                             workers=args.workers, scheduler=args.scheduler,
                             security=_security(args),
                             hide=[manifest.parent, Path(args.secret_file), out],
                             language_code=args.language)
    print(_("graded {students} students in {seconds:.1f} s").format(
        students=len({r.student_id for r in rows}), seconds=time.perf_counter() - start))
    for path in (write_gradebook(rows, out / "gradebook.csv"),
                 write_html_report(rows, out / "report.html")):
        print(_("wrote {path}").format(path=path))
    return 0
