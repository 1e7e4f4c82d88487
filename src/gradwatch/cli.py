"""The ``gradwatch`` command: studies on real data, and gradient checks.

This is the only module that talks to the terminal: progress bars and the
summary table go through rich (on stderr and stdout respectively), and every
error the user can fix is one plain line on stderr. Exit codes: 0 success,
1 internal failure (a bug: please report it), 2 bad input or usage,
130 interrupted with Ctrl-C.
"""

from __future__ import annotations

import argparse
import logging
import sys
import textwrap
import traceback
from pathlib import Path

__all__ = ["build_parser", "main"]

EXIT_OK, EXIT_FAILURE, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130

DEFAULT_OUT = "gradwatch-out"


# -- argument types ----------------------------------------------------------------


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected a whole number, got {text!r}"
        ) from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a number >= 1, got {value}")
    return value


def _seed(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected a whole number, got {text!r}"
        ) from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"a seed must be >= 0, got {value}")
    return value


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"expected a number > 0, got {text}")
    return value


def _int_list(text: str) -> tuple[int, ...]:
    values = tuple(
        _positive_int(part.strip()) for part in text.split(",") if part.strip()
    )
    if not values:
        raise argparse.ArgumentTypeError(
            "expected comma-separated numbers, e.g. 5,10,20"
        )
    return values


# -- the parser ----------------------------------------------------------------------


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
        help="small sizes: a run of seconds, for a first look or tests",
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
    parser = argparse.ArgumentParser(
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
              gradwatch study                       full run (about 2-3 minutes)
              gradwatch study --quick               small sizes (under 30 seconds)
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
        default="AAPL",
        help="bundled series: AAPL, GOOG, IBM or MSFT (default: AAPL)",
    )
    data.add_argument(
        "--csv", metavar="FILE", help="your own prices instead (CSV file)"
    )
    data.add_argument(
        "--date-column",
        default="Date",
        metavar="NAME",
        help="date column of --csv (default: Date)",
    )
    data.add_argument(
        "--value-column",
        default="Close",
        metavar="NAME",
        help="price column of --csv (default: Close)",
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
        type=_positive_int,
        metavar="L",
        help="past days each window sees (default: 20)",
    )
    model.add_argument(
        "--horizon",
        type=_positive_int,
        metavar="H",
        help="days ahead to predict (default: 1)",
    )
    model.add_argument(
        "--target",
        choices=("return", "price"),
        help="what the models predict (default: return)",
    )
    model.add_argument("--epochs", type=_positive_int, help="training epochs")
    model.add_argument(
        "--depth",
        type=_positive_int,
        help="Linear layers of the two MLPs (default: 16)",
    )
    model.add_argument(
        "--hidden",
        type=_positive_int,
        help="hidden units of RNN/LSTM/GRU (default: 32)",
    )
    model.add_argument("--lr", type=_positive_float, help="Adam learning rate")
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
        type=_int_list,
        metavar="LIST",
        help="comma-separated depths (default: 5,10,20)",
    )
    depth.add_argument("--epochs", type=_positive_int, help="training epochs")
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
        type=_int_list,
        metavar="LIST",
        help="comma-separated sequence lengths (default: 10,25,50)",
    )
    recurrent.add_argument("--epochs", type=_positive_int, help="training epochs")
    recurrent.add_argument("--hidden", type=_positive_int, help="hidden units")
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
        changes = {
            "ticker": args.ticker,
            "csv": args.csv,
            "date_column": args.date_column,
            "value_column": args.value_column,
            "fill": args.fill,
        }
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
        if args.depth is not None and args.depth < 3:
            raise _UsageError("--depth must be at least 3 for the residual MLP")
        config.forecast = replace(config.forecast, **changes)
    elif args.command == "depth":
        changes = {}
        if args.depths is not None:
            if min(args.depths) < 2:
                raise _UsageError("every depth in --depths must be at least 2")
            changes["depths"] = args.depths
        if args.epochs is not None:
            changes["epochs"] = args.epochs
        config.depth = replace(config.depth, **changes)
    elif args.command == "recurrent":
        changes = {}
        if args.lengths is not None:
            if min(args.lengths) < 2:
                raise _UsageError("every length in --lengths must be at least 2")
            changes["lengths"] = args.lengths
        for name in ("epochs", "hidden"):
            if getattr(args, name) is not None:
                changes[name] = getattr(args, name)
        config.recurrent = replace(config.recurrent, **changes)
    return config


class _UsageError(ValueError):
    """A combination of options that cannot work (exit status 2)."""


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
        for column in ("study", "model", "verdict", "key figures"):
            table.add_column(column)
        for result in run.results:
            for row in result.summary_rows:
                color = "green" if row["verdict"] == "healthy" else "red"
                table.add_row(
                    result.name,
                    row["model"],
                    f"[{color}]{row['verdict']}[/]",
                    row["metric"],
                )
        console.print(table)
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
    from .data import DataError
    from .report import OutputExistsError

    try:
        if args.command == "check":
            return _run_check(args)
        names = (
            ("forecast", "depth", "recurrent")
            if args.command == "study"
            else (args.command,)
        )
        return _run_study(args, names)
    except (DataError, OutputExistsError, NotADirectoryError, _UsageError) as error:
        print(f"gradwatch: {error}", file=sys.stderr)
        return EXIT_USAGE
    except OSError as error:
        where = f" {error.filename}" if error.filename else ""
        print(
            f"gradwatch: cannot write{where} ({error.strerror or error}); choose "
            "another folder with --out",
            file=sys.stderr,
        )
        return EXIT_USAGE
    except KeyboardInterrupt:
        out = getattr(args, "out", None)
        if out and (Path(out) / "metrics.json").exists():
            where = f"; partial results in {Path(out)}"
        elif out:
            where = " before any result was written"
        else:
            where = ""
        print(f"gradwatch: interrupted{where}", file=sys.stderr)
        return EXIT_INTERRUPTED
    except Exception as error:
        if args.debug:
            traceback.print_exc()
        message = str(error).splitlines()[0] if str(error) else ""
        print(
            f"gradwatch: internal error ({type(error).__name__}: {message}); "
            "please report this, with the output of the same command run with "
            "--debug",
            file=sys.stderr,
        )
        return EXIT_FAILURE


if __name__ == "__main__":
    sys.exit(main())
