"""The ``gradwatch`` command: studies on real data, and gradient checks.

This is the only module that talks to the terminal: progress bars and the
summary table go through rich (on stderr and stdout respectively), and every
error the user can fix is one plain line on stderr. Exit codes: 0 success,
1 internal failure (a bug: please report it), 2 bad input or usage,
130 interrupted with Ctrl-C, 143 stopped by SIGTERM.
"""

from __future__ import annotations

import argparse
import logging
import math
import signal
import sys
import textwrap
import traceback
from pathlib import Path

__all__ = ["build_parser", "main"]

EXIT_OK, EXIT_FAILURE, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130
EXIT_TERMINATED = 143

#: Ranges of the numeric options: wide enough for any sensible study, narrow
#: enough that a typo (an extra zero) is refused before minutes of training.
DEPTH_RANGE = (3, 200)
DEPTHS_RANGE = (2, 200)
LENGTHS_RANGE = (2, 1000)
EPOCHS_RANGE = (1, 1000)
HIDDEN_RANGE = (1, 1024)
DAYS_RANGE = (1, 1000)
LR_MAX = 10.0

QUICK_NOTE = (
    "quick mode: short training, for a first look; run without --quick for the "
    "full study"
)

DEFAULT_OUT = "gradwatch-out"


# -- argument types ----------------------------------------------------------------


def _whole_number(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected a whole number, got {text!r}"
        ) from None


def _int_in(low: int, high: int):
    """An argument type accepting whole numbers from ``low`` to ``high``."""

    def parse(text: str) -> int:
        value = _whole_number(text)
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(
                f"expected a whole number from {low} to {high}, got {value}"
            )
        return value

    return parse


def _seed(text: str) -> int:
    value = _whole_number(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"a seed must be >= 0, got {value}")
    return value


def _learning_rate(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not (math.isfinite(value) and 0 < value <= LR_MAX):
        raise argparse.ArgumentTypeError(
            f"expected a finite number > 0 and at most {LR_MAX:g}, got {text}"
        )
    return value


def _int_list(low: int, high: int):
    """An argument type for comma-separated whole numbers in a range."""
    item = _int_in(low, high)

    def parse(text: str) -> tuple[int, ...]:
        parts = [part.strip() for part in text.split(",")]
        if any(not part for part in parts):
            raise argparse.ArgumentTypeError(
                f"empty item in {text!r}; expected comma-separated numbers, "
                "e.g. 5,10,20"
            )
        return tuple(item(part) for part in parts)

    return parse


# -- the parser ----------------------------------------------------------------------


class _Parser(argparse.ArgumentParser):
    """An argument parser whose usage errors are one line on stderr."""

    def error(self, message: str):
        self.exit(EXIT_USAGE, f"{self.prog}: {message}; see '{self.prog} --help'\n")


def _epilog(text: str) -> str:
    return textwrap.dedent(text).strip("\n")


def _output_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("output")
    group.add_argument(
        "--out",
        default=DEFAULT_OUT,
        metavar="DIR",
        help=f"output folder (default: {DEFAULT_OUT})",
    )
    group.add_argument(
        "--force",
        action="store_true",
        help="overwrite a report already in the output folder",
    )
    group.add_argument(
        "--seed",
        type=_seed,
        default=0,
        metavar="N",
        help="random seed; the same seed gives the same numbers (default: 0)",
    )
    group.add_argument(
        "--quick",
        action="store_true",
        help="short training, for a first look (under 30 seconds); run without "
        "it for the full study",
    )


def _common_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--debug", action="store_true", help="show full tracebacks and debug logging"
    )
    parser.add_argument(
        "--quiet", action="store_true", help="no progress bars or summary table"
    )


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``gradwatch`` and its subcommands."""
    raw = argparse.RawDescriptionHelpFormatter
    parser = _Parser(
        prog="gradwatch",
        description="See where gradients vanish or explode, and what fixes them.",
        formatter_class=raw,
        epilog=_epilog("""
            examples:
              gradwatch study                  all three studies, in gradwatch-out/
              gradwatch study --quick --out /tmp/gw
              gradwatch forecast --ticker MSFT --epochs 5
              gradwatch check                  gradient check of every layer type
            run 'gradwatch COMMAND --help' for each command's options.
        """),
    )
    from . import __version__

    parser.add_argument(
        "--version", action="version", version=f"gradwatch {__version__}"
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    study = commands.add_parser(
        "study",
        formatter_class=raw,
        help="run the forecast, depth and recurrent studies and write one report",
        description="Train monitored networks on real data (daily stock prices, "
        "handwritten digits, the adding problem) and write report.html, "
        "metrics.json, figures/ and monitors/ to the output folder.",
        epilog=_epilog("""
            examples:
              gradwatch study                       full run (about a minute on 2 cores)
              gradwatch study --quick               short training (under 30 seconds)
              gradwatch study --out results --seed 1
              gradwatch study --out results --force overwrite an earlier report
        """),
    )
    _output_options(study)
    _common_options(study)

    forecast = commands.add_parser(
        "forecast",
        formatter_class=raw,
        help="deep MLPs and RNN/LSTM/GRU on daily prices",
        description="Forecast study: a deep tanh MLP with small weights, the same "
        "depth with ReLU + He + BatchNorm + residual connections, and vanilla "
        "RNN, LSTM and GRU, on windows of daily prices, against the persistence "
        "baseline.",
        epilog=_epilog("""
            examples:
              gradwatch forecast                           AAPL adjusted close (bundled)
              gradwatch forecast --ticker IBM --lookback 30
              gradwatch forecast --csv prices.csv --value-column Close
              gradwatch forecast --csv prices.csv --fill ffill --target price

            target: 'return' (default) predicts the log return over the next
            HORIZON days and turns it into a price as today's price x exp(return);
            'price' predicts the standardised price itself. Metrics are in price
            units either way.
        """),
    )
    data = forecast.add_argument_group("data")
    data.add_argument(
        "--ticker",
        help="bundled series: AAPL, GOOG, IBM or MSFT (default: AAPL)",
    )
    data.add_argument(
        "--csv", metavar="FILE", help="your own prices instead (CSV file)"
    )
    data.add_argument(
        "--value-column",
        metavar="NAME",
        help="price column: of --csv (default: Close), or of the bundled "
        "series: Open, High, Low, Close or Adj Close (default: Adj Close)",
    )
    data.add_argument(
        "--date-column",
        metavar="NAME",
        help="date column of --csv (default: Date)",
    )
    data.add_argument(
        "--dayfirst",
        action="store_true",
        help="dates of --csv are written day first (31/12/2020); needed when "
        "no day is above 12, as such a file cannot be told apart",
    )
    data.add_argument(
        "--fill",
        choices=("ffill", "drop"),
        help="missing values in --csv: repeat the previous value or "
        "drop the row (default: refuse)",
    )
    model = forecast.add_argument_group("windows and training")
    model.add_argument(
        "--lookback",
        type=_int_in(*DAYS_RANGE),
        metavar="L",
        help="past days each window sees (default: 20)",
    )
    model.add_argument(
        "--horizon",
        type=_int_in(*DAYS_RANGE),
        metavar="H",
        help="days ahead to predict (default: 1)",
    )
    model.add_argument(
        "--target",
        choices=("return", "price"),
        help="what the models predict (default: return)",
    )
    model.add_argument("--epochs", type=_int_in(*EPOCHS_RANGE), help="training epochs")
    model.add_argument(
        "--depth",
        type=_int_in(*DEPTH_RANGE),
        help="Linear layers of the two MLPs, 3 to 200 (default: 16)",
    )
    model.add_argument(
        "--hidden",
        type=_int_in(*HIDDEN_RANGE),
        help="hidden units of RNN/LSTM/GRU (default: 32)",
    )
    model.add_argument(
        "--lr",
        type=_learning_rate,
        help="SGD learning rate, all five models (default: 0.01)",
    )
    _output_options(forecast)
    _common_options(forecast)

    depth = commands.add_parser(
        "depth",
        formatter_class=raw,
        help="MLPs on handwritten digits over depth, activation and initialisation",
        description="Depth study: gradient ratio at initialisation and after "
        "training, predicted by mean-field theory and measured, and held-out "
        "accuracy, for sigmoid/tanh/ReLU x small/Xavier/He and BatchNorm or "
        "residual networks.",
        epilog=_epilog("""
            examples:
              gradwatch depth
              gradwatch depth --depths 4,8,16,32 --epochs 3
        """),
    )
    depth.add_argument(
        "--depths",
        type=_int_list(*DEPTHS_RANGE),
        metavar="LIST",
        help="comma-separated depths, each 2 to 200 (default: 5,10,20)",
    )
    depth.add_argument("--epochs", type=_int_in(*EPOCHS_RANGE), help="training epochs")
    _output_options(depth)
    _common_options(depth)

    recurrent = commands.add_parser(
        "recurrent",
        formatter_class=raw,
        help="vanilla RNN vs LSTM vs GRU on the adding problem",
        description="Recurrent study: gradient through time and test MSE against "
        "the 0.167 baseline on the adding problem, for several sequence lengths, "
        "with and without gradient clipping.",
        epilog=_epilog("""
            examples:
              gradwatch recurrent
              gradwatch recurrent --lengths 10,25,50 --epochs 5
        """),
    )
    recurrent.add_argument(
        "--lengths",
        type=_int_list(*LENGTHS_RANGE),
        metavar="LIST",
        help="comma-separated sequence lengths, each 2 to 1000 (default: 10,25,50)",
    )
    recurrent.add_argument(
        "--epochs", type=_int_in(*EPOCHS_RANGE), help="training epochs"
    )
    recurrent.add_argument("--hidden", type=_int_in(*HIDDEN_RANGE), help="hidden units")
    _output_options(recurrent)
    _common_options(recurrent)

    check = commands.add_parser(
        "check",
        formatter_class=raw,
        help="gradient-check every layer type against finite differences",
        description="Run gradwatch.gradcheck (float64, central differences, random "
        "upstream gradient) on every layer type and print the worst relative error.",
        epilog=_epilog("""
            examples:
              gradwatch check
              gradwatch check --seed 3
        """),
    )
    check.add_argument(
        "--seed",
        type=_seed,
        default=0,
        metavar="N",
        help="seed of the inputs and weights (default: 0)",
    )
    _common_options(check)
    return parser


# -- building the study configuration ------------------------------------------------


def _config(args):
    from dataclasses import replace

    from .studies import StudyConfig

    config = StudyConfig.for_mode(args.quick)
    if args.command == "forecast":
        changes = _data_changes(args)
        for name in (
            "lookback",
            "horizon",
            "target",
            "epochs",
            "depth",
            "hidden",
            "lr",
        ):
            if getattr(args, name) is not None:
                changes[name] = getattr(args, name)
        config.forecast = replace(config.forecast, **changes)
    elif args.command == "depth":
        changes = {}
        if args.depths is not None:
            changes["depths"] = args.depths
        if args.epochs is not None:
            changes["epochs"] = args.epochs
        config.depth = replace(config.depth, **changes)
    elif args.command == "recurrent":
        changes = {}
        if args.lengths is not None:
            changes["lengths"] = args.lengths
        for name in ("epochs", "hidden"):
            if getattr(args, name) is not None:
                changes[name] = getattr(args, name)
        config.recurrent = replace(config.recurrent, **changes)
    return config


def _data_changes(args) -> dict:
    """The forecast's data options, refusing combinations that would be ignored."""
    if args.csv is not None:
        if args.ticker is not None:
            raise _UsageError(
                "--ticker and --csv both choose the prices; choose one of them"
            )
        return {
            "csv": args.csv,
            "value_column": args.value_column or "Close",
            "date_column": args.date_column or "Date",
            "fill": args.fill,
            "dayfirst": args.dayfirst,
        }
    csv_only = [
        option
        for option, given in (
            ("--date-column", args.date_column is not None),
            ("--fill", args.fill is not None),
            ("--dayfirst", args.dayfirst),
        )
        if given
    ]
    if csv_only:
        raise _UsageError(
            f"{', '.join(csv_only)} only apply to a --csv file; give --csv FILE "
            "or leave them out"
        )
    from .data.stocks import COLUMNS

    column = args.value_column or "Adj Close"
    if column not in COLUMNS:
        raise _UsageError(
            f"--value-column {column!r} is not a column of the bundled prices; "
            f"choose one of {', '.join(COLUMNS)}"
        )
    return {"ticker": (args.ticker or "AAPL").upper(), "value_column": column}


def _check_out(out: str) -> None:
    """Refuse an empty --out and a folder that cannot be created, in plain words."""
    if not out.strip():
        raise _UsageError("--out is empty; give the name of an output folder")
    path = Path(out)
    for parent in (path, *path.parents):
        if parent.exists():
            if not parent.is_dir():
                where = (
                    "is a file" if parent == path else f"lies under {parent}, a file"
                )
                raise _UsageError(
                    f"cannot create the output folder {path}: it {where}; choose "
                    "another --out"
                )
            break


class _UsageError(ValueError):
    """A combination of options that cannot work (exit status 2)."""


class _Terminated(KeyboardInterrupt):
    """Raised by the SIGTERM handler: stops the run as Ctrl-C does, keeping
    the finished studies."""


# -- commands ------------------------------------------------------------------------


class _ProgressBars:
    """Rich progress bars on stderr, one per model being trained.

    The display starts with the first training step, so that an error found
    while checking the input is printed alone on its line.
    """

    def __init__(self, quiet: bool) -> None:
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
        )

        self.quiet = quiet
        self.display = Progress(
            TextColumn("{task.description:<40}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=Console(stderr=True),
            transient=True,
        )
        self.tasks: dict[str, int] = {}
        self.started = False

    def __call__(self, label: str, done: int, total: int) -> None:
        if self.quiet:
            return
        if not self.started:
            self.display.start()
            self.started = True
        if label not in self.tasks:
            self.tasks[label] = self.display.add_task(label, total=total)
        self.display.update(self.tasks[label], completed=done, total=total)
        if done >= total:
            self.display.remove_task(self.tasks.pop(label))

    def say(self, text: str) -> None:
        if not self.quiet:
            self.display.console.print(text)

    def stop(self) -> None:
        if self.started:
            self.display.stop()
            self.started = False


def _run_study(args, names) -> int:
    from rich.console import Console
    from rich.table import Table

    from .studies import run_studies

    _check_out(args.out)
    config = _config(args)
    console = Console()
    bars = _ProgressBars(args.quiet)

    def announce(result) -> None:
        bars.say(f"[green]done[/] {result.title} in {result.seconds:.1f} s")

    try:
        run = run_studies(
            names,
            args.out,
            seed=args.seed,
            quick=args.quick,
            force=args.force,
            config=config,
            progress=bars,
            on_result=announce,
        )
    finally:
        bars.stop()
    if not args.quiet:
        table = Table(title="gradwatch summary")
        for column in (
            "study",
            "model",
            "verdict (init \u2192 trained)",
            "key figures",
        ):
            table.add_column(column)
        for result in run.results:
            for row in result.summary_rows:
                final = row["verdict"].split("\u2192")[-1].strip()
                color = "green" if final == "healthy" else "red"
                table.add_row(
                    result.name,
                    row["model"],
                    f"[{color}]{row['verdict']}[/]",
                    row["metric"],
                )
        console.print(table)
        if args.quick:
            console.print(f"[yellow]{QUICK_NOTE}[/]")
        console.print(f"report: {run.report_path}\nmetrics: {run.metrics_path}")
    return EXIT_OK


def _run_check(args) -> int:
    from rich.console import Console
    from rich.table import Table

    from .studies.check import run_checks

    rows = run_checks(seed=args.seed)
    failed = [row for row in rows if not row["passed"]]
    if not args.quiet:
        table = Table(title="gradwatch.gradcheck (float64, random upstream gradient)")
        for column in ("layer", "worst relative error", "where", "ok"):
            table.add_column(column)
        for row in rows:
            table.add_row(
                row["layer"],
                f"{row['max_error']:.2e}",
                f"{row['worst']} {tuple(row['worst_index'])}",
                "[green]ok[/]" if row["passed"] else "[red]FAILED[/]",
            )
        Console().print(table)
    if failed:
        print(
            f"gradwatch: {len(failed)} layer(s) failed the gradient check "
            f"({', '.join(row['layer'] for row in failed)}); please report this "
            "with the output of 'gradwatch check --debug'",
            file=sys.stderr,
        )
        return EXIT_FAILURE
    return EXIT_OK


# -- entry point ---------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    """Run the command line; return the exit status (see the module docstring)."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as stop:
        return int(stop.code or 0)
    if args.command is None:
        parser.print_help()
        return EXIT_USAGE

    logging.basicConfig(
        level=logging.DEBUG if args.debug else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
    )
    # Python warnings go to the log, shown only with --debug: what matters
    # to the user (a diverged run, say) is in the summary and the report.
    logging.captureWarnings(True)
    if not args.debug:
        logging.getLogger("py.warnings").setLevel(logging.ERROR)
    from .data import DataError
    from .report import OutputExistsError

    previous = signal.getsignal(signal.SIGTERM)
    try:
        signal.signal(signal.SIGTERM, _on_sigterm)
    except ValueError:
        # Not the main thread (e.g. main() called from a test runner thread).
        previous = None
    try:
        return _dispatch(args)
    except (DataError, OutputExistsError, _UsageError) as error:
        print(f"gradwatch: {_one_line(error)}", file=sys.stderr)
        return EXIT_USAGE
    except NotADirectoryError as error:
        print(
            f"gradwatch: cannot create the output folder {args.out}: a part of "
            f"{error.filename or 'that path'} is a file; choose another --out",
            file=sys.stderr,
        )
        return EXIT_USAGE
    except OSError as error:
        where = f" {error.filename}" if error.filename else ""
        print(
            f"gradwatch: cannot write{where} ({error.strerror or _one_line(error)}); "
            "choose another folder with --out",
            file=sys.stderr,
        )
        return EXIT_USAGE
    except _Terminated:
        print(f"gradwatch: stopped by SIGTERM{_partial(args)}", file=sys.stderr)
        return EXIT_TERMINATED
    except KeyboardInterrupt:
        print(f"gradwatch: interrupted{_partial(args)}", file=sys.stderr)
        return EXIT_INTERRUPTED
    except Exception as error:
        if args.debug:
            traceback.print_exc()
        print(
            f"gradwatch: internal error ({type(error).__name__}: "
            f"{_one_line(error)}); please report this, with the output of the "
            "same command run with --debug",
            file=sys.stderr,
        )
        return EXIT_FAILURE
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)


def _on_sigterm(signum, frame) -> None:
    raise _Terminated()


def _one_line(error: BaseException) -> str:
    """An exception's message on one line; its repr when the message is blank."""
    text = " ".join(str(error).split())
    return text or repr(error)


def _partial(args) -> str:
    """Where the partial results of an interrupted run are, as a clause."""
    out = getattr(args, "out", None)
    if out and (Path(out) / "metrics.json").exists():
        return f"; partial results in {Path(out)}"
    if out:
        return " before any result was written"
    return ""


def _dispatch(args) -> int:
    if args.command == "check":
        return _run_check(args)
    names = (
        ("forecast", "depth", "recurrent")
        if args.command == "study"
        else (args.command,)
    )
    return _run_study(args, names)


if __name__ == "__main__":
    sys.exit(main())
