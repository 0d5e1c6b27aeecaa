"""Command line: ``python -W ignore -m validation [options] PATH...``.

Exit status: 0 no error (warnings allowed), 1 at least one error, 2 usage or
configuration error, 3 internal error. No input makes it print a Python traceback
(set VALIDATION_DEBUG=1 to see one for an internal error).
"""

from __future__ import annotations

import argparse
import difflib
import json
import os
import re
import signal
import sys
import traceback
from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from validation import __version__
from validation.config import (
    COMMAND_LINE,
    Config,
    ConfigError,
    load_config,
    with_command_line_selection,
    with_values,
)
from validation.loaders.paths import find_root
from validation.problems import INTERNAL_ERROR, Level, Report

EXIT_CLEAN, EXIT_PROBLEMS, EXIT_USAGE, EXIT_INTERNAL = 0, 1, 2, 3


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        raise _UsageError(message)


class _UsageError(Exception):
    pass


class _LoadFailure(Exception):
    """DAG files could not be imported as the run requires (no kernel containment under
    CI=true, a lock-down that failed): exit 3 with the reason, not a bug report."""


class _Terminated(BaseException):
    """SIGTERM arrived: unwind (every child killed, every folder removed) and exit 143."""


def _on_sigterm(signum: int, frame: Any) -> None:
    raise _Terminated()


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="python -m validation",
        description="Validate DAG files, role files and imports modules of the Airflow "
        "pipelines repository before they are deployed.",
        epilog="Exit status: 0 no errors, 1 errors found, 2 usage error, 3 internal error.",
    )
    parser.add_argument("paths", nargs="*", metavar="PATH",
                        help="files to validate, relative to the current directory or absolute")
    parser.add_argument("--all", action="store_true", dest="everything",
                        help="validate every file under environments/ and imports/")
    parser.add_argument("--root", metavar="DIR",
                        help="the repository root (default: the nearest folder above the "
                        "named files, else above the current folder, that holds "
                        "environments/ or a setup.cfg with [validation])")
    parser.add_argument("--format", choices=("auto", "text", "json", "github", "sarif"),
                        default="auto", help="output format (default: auto, which is github "
                        "when GITHUB_ACTIONS=true, else text)")
    parser.add_argument("-q", "--quiet", action="store_true",
                        help="print errors only; the summary line counts the hidden warnings "
                        "(text and github formats)")
    parser.add_argument("--jobs", metavar="N", help="worker processes importing DAG files "
                        "(default: one per CPU core)")
    parser.add_argument("--dag-timeout", metavar="SECONDS",
                        help="time limit to import one DAG file (default: 30)")
    parser.add_argument("--select", metavar="RULES",
                        help="run only these rules: ids or families, comma-separated "
                        "(replaces the selection in setup.cfg)")
    parser.add_argument("--extend-select", metavar="RULES",
                        help="also run these rules (e.g. the opt-in DAG022)")
    parser.add_argument("--ignore", metavar="RULES", help="do not run these rules")
    parser.add_argument("--list-rules", action="store_true",
                        help="list every rule with its id, name, level and summary, and exit")
    parser.add_argument("--explain", metavar="RULE",
                        help="print the documentation of one rule, and exit")
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    _add_change_options(parser)
    _add_speed_options(parser)
    _add_fix_options(parser)
    return parser


def _add_fix_options(parser: argparse.ArgumentParser) -> None:
    """Fixes (validation/fix.py): the problems marked [*] have one right mend."""
    group = parser.add_argument_group(
        "fixes", "Problems marked [*] have one right mend, made as an edit of the file's "
        "text (comments and layout are kept).")
    choice = group.add_mutually_exclusive_group()
    choice.add_argument("--fix", action="store_true",
                        help="make every fix, then report what is left (its exit status)")
    choice.add_argument("--diff", action="store_true",
                        help="print the fixes as a unified diff and change nothing (exit 1 "
                        "when there is something to fix)")


def _add_change_options(parser: argparse.ArgumentParser) -> None:
    """Pull requests and role reviews: validation/vcs/changes.py, validation/vcs/policy_diff.py."""
    group = parser.add_argument_group("changes and role reviews")
    group.add_argument("--changed-since", metavar="REF",
                       help="validate the files changed since the git ref REF (from where "
                       "the branch left it), and the files whose result depends on them")
    group.add_argument("--show-policy", metavar="ROLE_FILE",
                       help="print the IAM policy iam_builder builds from a role file, as "
                       "JSON, and exit")
    group.add_argument("--policy-diff", metavar="REF",
                       help="print the access each role file changed since the git ref REF "
                       "adds and removes (text, json; github also writes the step summary), "
                       "and exit")


def _add_speed_options(parser: argparse.ArgumentParser) -> None:
    """The cache, the progress line and the timings (validation.cache.store, .progress)."""
    group = parser.add_argument_group(
        "speed", "DAG, imports and role facts are cached in .validation_cache/ at the "
        "repository root and reused while the file, the repository modules it imported, "
        "the lock file and the validator are unchanged. A progress line shows on stderr "
        "when it is a terminal (not with --quiet).")
    group.add_argument("--no-cache", action="store_true",
                       help="neither read nor write the cache (also: VALIDATION_NO_CACHE=1)")
    group.add_argument("--cache-dir", metavar="DIR",
                       help="keep the cache in DIR (default: .validation_cache at the root)")
    group.add_argument("--timings", action="store_true",
                       help="print the slowest DAG imports on stderr")
    group.add_argument("--allow-weak-containment", action="store_true",
                       help="under CI=true, import DAG files even where the kernel offers no "
                       "containment (Landlock and seccomp), behind the audit-hook guard alone")


def main(argv: Sequence[str] | None = None) -> int:
    try:
        previous = signal.signal(signal.SIGTERM, _on_sigterm)
    except ValueError:  # not the main thread: leave signals alone
        previous = None
    try:
        return _guarded_main(argv)
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)


def _guarded_main(argv: Sequence[str] | None) -> int:
    try:
        return _main(argv)
    except _UsageError as error:
        print(f"{build_parser().format_usage().rstrip()}\nerror: {error}", file=sys.stderr)
        return EXIT_USAGE
    except ConfigError as error:
        print(f"configuration error: {error}", file=sys.stderr)
        return EXIT_USAGE
    except SystemExit as done:  # --help and --version
        return done.code if isinstance(done.code, int) else EXIT_USAGE
    except KeyboardInterrupt:
        print("interrupted (SIGINT): the run was stopped, no report", file=sys.stderr)
        return 130
    except _Terminated:
        print("terminated (SIGTERM): the run was stopped, no report", file=sys.stderr)
        return 143
    except _LoadFailure as error:
        print(f"validation: {error}", file=sys.stderr)
        return EXIT_INTERNAL
    except Exception as error:
        if os.environ.get("VALIDATION_DEBUG"):
            traceback.print_exc()
        print(f"internal error: {type(error).__name__}: {error}\n"
              "This is a bug in the validator, not in your files: please report it "
              "(VALIDATION_DEBUG=1 shows the traceback).", file=sys.stderr)
        return EXIT_INTERNAL


def _main(argv: Sequence[str] | None) -> int:
    from validation.reporters import FORMATS, options_for, resolve_format, step_summary
    from validation.run.runner import run

    args = build_parser().parse_args(argv)
    if args.list_rules:
        sys.stdout.write(list_rules())
        return EXIT_CLEAN
    if args.explain:
        sys.stdout.write(explain(args.explain))
        return EXIT_CLEAN
    root = _root(args)
    if args.show_policy or args.policy_diff:
        return _policy_command(root, args)
    if not args.paths and not args.everything and args.changed_since is None:
        raise _UsageError("name at least one PATH, or use --all or --changed-since REF")
    config = _config(root, args)
    paths, everything = _changed_paths(root, args)
    report = _run_with_speed_options(run, root, paths, everything, args, config)
    if args.diff:
        return _show_diff(root, report)
    if args.fix:
        report = _fix(root, report, lambda named, whole: _run_with_speed_options(
            run, root, named, whole, args, config), paths, everything)
    name = resolve_format(args.format, os.environ)
    options = options_for(name, quiet=args.quiet, env=os.environ,
                          is_terminal=_is_terminal(sys.stdout),
                          **_reporter_inputs(name, root, report))
    sys.stdout.write(FORMATS[name](report, options))
    sys.stdout.flush()
    if name == "github" and os.environ.get("GITHUB_STEP_SUMMARY"):
        _append(os.environ["GITHUB_STEP_SUMMARY"], step_summary(report, options))
    if any(problem.rule == INTERNAL_ERROR for problem in report.problems):
        return EXIT_INTERNAL  # a rule failed: the report is incomplete for that file
    has_errors = any(problem.level is Level.ERROR for problem in report.problems)
    return EXIT_PROBLEMS if has_errors else EXIT_CLEAN


Validate = Callable[[list[str], bool], Report]  # paths, --all: the report


def _show_diff(root: Path, report: Report) -> int:
    """--diff: the fixes as a unified diff on stdout, a count on stderr; exit 1 when
    there is something to fix."""
    from validation.fix import plan, unified_diff

    done = plan(root, report.problems)
    sys.stdout.write(unified_diff(done))
    _tell_refused(done.refused)
    count = len({p.fix for p in done.fixed})
    later = " (more may follow once these are made: --fix repeats)" if done.waiting else ""
    print(f"Would fix {count} problem{'' if count == 1 else 's'} in "
          f"{len(done.texts)} file{'' if len(done.texts) == 1 else 's'}{later}."
          if count else "No fixes available.", file=sys.stderr)
    return EXIT_PROBLEMS if done.texts else EXIT_CLEAN


def _fix(root: Path, report: Report, validate: Validate, paths: list[str],
         everything: bool) -> Report:
    """--fix: make the fixes (more rounds on the changed files), then the report of what
    is left; what was fixed and what was left alone go to stderr."""
    from validation.fix import fix_repeatedly

    outcome = fix_repeatedly(root, report,
                             lambda changed: validate([str(root / p) for p in changed], False))
    _tell_refused(outcome.refused)
    if outcome.fixed:
        rules = Counter(problem.rule for problem in outcome.fixed)
        count = sum(rules.values())
        by_rule = ", ".join(f"{rule} x{n}" for rule, n in sorted(rules.items()))
        print(f"Fixed {count} problem{'' if count == 1 else 's'} in {len(outcome.changed)} "
              f"file{'' if len(outcome.changed) == 1 else 's'} ({by_rule}).", file=sys.stderr)
    return validate(paths, everything) if outcome.changed else report


def _tell_refused(refused: dict[str, str]) -> None:
    for path, reason in sorted(refused.items()):
        print(f"{path}: not fixed: {reason}", file=sys.stderr)


def _root(args: argparse.Namespace) -> Path:
    """--root, else the repository the named files are in, else the one the current
    folder is in (found by walking up to the folder that holds environments/), else the
    current folder. Files of two repositories in one run are a usage error."""
    if args.root is not None:
        root = Path(args.root).resolve()
        if not root.is_dir():
            raise _UsageError(f"--root {args.root}: not a directory")
        return root
    cwd = Path.cwd()
    named = {found for raw in args.paths
             if (found := find_root((cwd / raw).parent)) is not None}
    if len(named) > 1:
        listed = ", ".join(str(folder) for folder in sorted(named))
        raise _UsageError(f"the named files are in more than one repository ({listed}): "
                          "validate each on its own, or give --root")
    found = named.pop() if named else find_root(cwd)
    return (found or cwd).resolve()


def _reporter_inputs(name: str, root: Path, report: Report) -> dict[str, Any]:
    """What a format needs from git or the files: the lines a pull request changed
    (GITHUB_BASE_REF) for github, the flagged lines' text for sarif's fingerprints."""
    if name == "github" and os.environ.get("GITHUB_BASE_REF"):
        from validation.vcs.diff import changed_lines

        return {"changed": changed_lines(root, os.environ["GITHUB_BASE_REF"])}
    if name == "sarif":
        from validation.loaders.files import line_texts

        return {"line_texts": line_texts(root, ((p.path, p.line) for p in report.problems))}
    return {}


def _changed_paths(root: Path, args: argparse.Namespace) -> tuple[list[str], bool]:
    """The PATHs named, and with --changed-since the files it selects (repo-relative
    paths, made absolute so that they do not depend on the current folder)."""
    if args.changed_since is None or args.everything:
        return list(args.paths), args.everything
    from validation.vcs.changes import ChangesError, paths_to_check

    try:
        found, everything = paths_to_check(root, args.changed_since)
    except ChangesError as error:
        raise _UsageError(f"--changed-since: {error}") from None
    return [*args.paths, *(str(root / path) for path in found)], everything


def _policy_command(root: Path, args: argparse.Namespace) -> int:
    """--show-policy and --policy-diff: validation/vcs/policy_diff.py does the work."""
    if args.paths or args.everything or args.changed_since is not None or args.fix \
            or args.diff:
        raise _UsageError("--show-policy and --policy-diff take no PATH, --all, "
                          "--changed-since, --fix or --diff")
    if args.show_policy and args.policy_diff:
        raise _UsageError("use --show-policy or --policy-diff, not both")
    config = _config(root, args)
    if args.show_policy:
        return _show_policy(root, args.show_policy, config)
    return _policy_diff(root, args.policy_diff, args.format, config)


def _show_policy(root: Path, raw: str, config: Config) -> int:
    """Print the policy as JSON (exit 0); the file's problems go to stderr, and a file
    that has errors or builds no policy exits 1."""
    from validation.loaders.paths import resolve
    from validation.loaders.roles import load_role
    from validation.reporters import FORMATS, Options
    from validation.routes import Kind
    from validation.run.runner import run

    facts = resolve(root, raw, Path.cwd())
    if not facts.inside_root or not facts.exists or facts.is_dir:
        raise _UsageError(f"--show-policy {raw}: no such file in the repository")
    if facts.route.kind is not Kind.ROLE:
        raise _UsageError(f"--show-policy {raw}: not a role file "
                          "(environments/<env>/roles/<name>.yaml)")
    policy = load_role(root, facts.path, facts.route.env or "", facts.route.name or "").policy
    report = run(root, [facts.path], everything=False, config=config, cwd=root)
    if policy is not None:
        sys.stdout.write(json.dumps(policy, indent=2) + "\n")
    if report.problems:
        sys.stderr.write(FORMATS["text"](report, Options()))
    if policy is None:
        sys.stderr.write(f"{facts.path}: iam_builder builds no policy from this file\n")
    errors = any(problem.level is Level.ERROR for problem in report.problems)
    return EXIT_PROBLEMS if errors or policy is None else EXIT_CLEAN


POLICY_FORMATS = ("auto", "text", "json", "github")


def _policy_diff(root: Path, ref: str, format_name: str, config: Config) -> int:
    """Print the policy changes since ``ref``; exit 1 when a changed role file does not
    build now, else 0. The github format also appends Markdown to $GITHUB_STEP_SUMMARY."""
    from validation.reporters.policy import github, markdown, text, to_json
    from validation.vcs import policy_diff

    if format_name not in POLICY_FORMATS:
        raise _UsageError(f"--policy-diff prints text, json or github, not {format_name}")
    if format_name == "auto":
        format_name = "github" if os.environ.get("GITHUB_ACTIONS") == "true" else "text"
    try:
        diff = policy_diff.diff_policies(root, ref, config.environments)
    except policy_diff.PolicyUsageError as error:
        raise _UsageError(str(error)) from None
    render = {"text": text, "json": to_json, "github": github}[format_name]
    sys.stdout.write(render(diff))
    summary = os.environ.get("GITHUB_STEP_SUMMARY")
    if format_name == "github" and summary:
        _append(summary, markdown(diff))
    return EXIT_PROBLEMS if any(role.error for role in diff.roles) else EXIT_CLEAN


def _run_with_speed_options(run: Any, root: Path, paths: list[str], everything: bool,
                            args: argparse.Namespace, config: Config) -> Report:
    from validation.cache.store import DEFAULT_FOLDER, open_cache
    from validation.loaders.dag.errors import LoaderError
    from validation.progress import ProgressLine, timings_table

    no_cache = args.no_cache or bool(os.environ.get("VALIDATION_NO_CACHE"))
    store = None if no_cache else open_cache(
        Path(args.cache_dir).resolve() if args.cache_dir else root / DEFAULT_FOLDER,
        root, config.load_settings())
    progress = None if args.quiet or not _is_terminal(sys.stderr) else ProgressLine(sys.stderr)
    try:
        require_kernel = (os.environ.get("CI") == "true"
                          and not args.allow_weak_containment)
        report: Report = run(root, paths, everything=everything, config=config,
                             cwd=Path.cwd(), store=store, progress=progress,
                             require_kernel=require_kernel)
    except LoaderError as error:
        raise _LoadFailure(str(error)) from None
    finally:
        if progress is not None:
            progress.close()
    if args.timings:
        sys.stderr.write(timings_table(report.timings))
    return report


def _is_terminal(stream: object) -> bool:
    try:
        return bool(stream.isatty())  # type: ignore[attr-defined]
    except (AttributeError, OSError, ValueError):
        return False


def _append(path: str, markdown: str) -> None:
    """Add to the step summary (other steps' text stays); a failure is only a warning."""
    try:
        with open(path, "a", encoding="utf-8") as summary:
            summary.write("\n" + markdown)
    except OSError as error:
        print(f"warning: cannot write the step summary {path}: {error}", file=sys.stderr)


def _config(root: Path, args: argparse.Namespace) -> Config:
    config = load_config(root)
    overrides = {key: value for key, value in
                 (("jobs", args.jobs), ("dag_timeout", args.dag_timeout)) if value is not None}
    if overrides:
        config = with_values(config, overrides, COMMAND_LINE)
    return with_command_line_selection(config, args.select, args.extend_select, args.ignore)


def list_rules() -> str:
    """One line per rule: id, name, level (and whether it is opt-in), summary."""
    from validation.docs import ordered_rules

    lines = []
    for rule in ordered_rules():
        level = rule.level.value + ("" if rule.default else ", opt-in")
        lines.append(f"{rule.id}  {rule.slug:<26} {level:<16} {rule.summary}")
    return "\n".join(lines) + "\n"


def explain(rule_id: str) -> str:
    """One rule's documentation (its docstring), with its id, name and level."""
    from validation.registry import all_rules

    rules = all_rules()
    found = rules.get(rule_id.upper()) or next(
        (rule for rule in rules.values() if rule.slug == rule_id.lower()), None)
    if found is None:
        padded = re.fullmatch(r"([A-Za-z]{3})(\d{1,3})", rule_id)
        close = [f"{padded[1].upper()}{int(padded[2]):03d}"] if padded else []
        close = [code for code in close if code in rules] or difflib.get_close_matches(
            rule_id.upper(), list(rules), n=3)
        hint = f"; did you mean {' or '.join(close)}?" if close else " (see --list-rules)"
        raise _UsageError(f"--explain {rule_id}: no such rule{hint}")
    opt_in = "" if found.default else ", opt-in: enable it with --extend-select or " \
        "extend_select in setup.cfg"
    return f"{found.id} {found.slug} ({found.level.value}{opt_in})\n\n{found.doc}\n"
