// Plots for `tokrl report`, drawn by gnuplot (Debian: gnuplot-nox; needs
// its svg and pngcairo terminals).
//
// Each plot is three files in the plot folder, kept so that users can edit
// the script and re-run it (`cd plots && gnuplot NAME.gp`):
//   NAME.dat   the numbers, whitespace-separated, with a comment header
//              naming the columns
//   NAME.gp    the gnuplot script; it writes NAME.svg and NAME.png (the same
//              commands run once per terminal)
//   NAME.log   gnuplot's output from the last run
//
// Two kinds of plot cover the report:
//   LinePlot      lines with an optional shaded band per series: learning
//                 curves, performance profiles, IQM over training. The
//                 legend sits below the axes so it never covers data.
//   IntervalPlot  rliable's plot_interval_estimates: one panel per
//                 aggregate, one row per variant, a horizontal bar from the
//                 CI's lower to upper end and a black tick at the point
//                 estimate.
//
// Colors: VariantColor(i) is the i-th color of a fixed colorblind-safe
// palette (seaborn "colorblind"); the report gives variant i the same color
// in every plot.
//
// Text is drawn with gnuplot's "noenhanced" mode, so names with underscores
// (space_invaders) print as written.
#ifndef TOKRL_REPORT_PLOTS_H_
#define TOKRL_REPORT_PLOTS_H_

#include <cstddef>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "tokrl/stats/bootstrap.h"

namespace tokrl::report {

struct Series {
  /// Legend title.
  std::string name;
  /// "#rrggbb".
  std::string color;
  /// Points (same length, x increasing). A series without points is left
  /// out of the plot.
  std::vector<double> x, y;
  /// Shaded band from lower to upper at each x: both empty (no band) or
  /// both as long as x.
  std::vector<double> lower, upper;
};

struct LinePlot {
  /// File stem: [A-Za-z0-9_.-] only (SafeFileName makes one).
  std::string name;
  std::string title, xlabel, ylabel;
  std::vector<Series> series;
  /// gnuplot format of the x tic labels, e.g. "%.1s%c" (1.5M); "" = default.
  std::string xformat;
  /// Fixed y range; nullopt = autoscale.
  std::optional<double> ymin, ymax;
  /// Image size in pixels.
  int width = 720, height = 480;  // plus 20 per series (legend lines)
};

struct IntervalRow {
  std::string name;   // y tic label
  std::string color;  // "#rrggbb"
  /// One interval per panel, in panel order.
  std::vector<stats::Interval> intervals;
};

struct IntervalPlot {
  std::string name;
  std::string title;
  /// Label under the panels (e.g. "MinAtar-normalized score").
  std::string xlabel;
  /// Panel titles, left to right ("Median", "IQM", ...).
  std::vector<std::string> panels;
  /// Rows top to bottom.
  std::vector<IntervalRow> rows;
};

// The i-th palette color (cycles after 10).
std::string VariantColor(size_t index);

// `name` with every character outside [A-Za-z0-9_.-] replaced by '_'
// ("dqn perconv+softmoe" -> "dqn_perconv_softmoe"); never empty.
std::string SafeFileName(std::string_view name);

// `text` as a single-quoted gnuplot string ('' for a quote, line breaks
// as spaces): gnuplot runs `backquoted` commands and expands @macros in
// double-quoted strings, never in single-quoted ones.
std::string GnuplotString(std::string_view text);

// Write DIR/NAME.dat and DIR/NAME.gp (atomically; DIR must exist) and
// return the script's path. Throw tokrl::Error on an invalid plot (bad
// name, no points at all, mismatched lengths).
std::filesystem::path WriteLinePlot(const std::filesystem::path& dir,
                                    const LinePlot& plot);
std::filesystem::path WriteIntervalPlot(const std::filesystem::path& dir,
                                        const IntervalPlot& plot);

// Runs `gnuplot` on every script, each in its own folder with its output in
// NAME.log (replaced), up to `jobs` at a time. Throws tokrl::Error:
//   "gnuplot not found: install it with apt-get install gnuplot-nox" when
//   the program is not in PATH (or, given with a '/', not executable);
//   "gnuplot failed on SCRIPT (exit code N); see LOG: <last lines>" when a
//   run fails, or succeeds without writing its .svg and .png.
void RunGnuplot(const std::vector<std::filesystem::path>& scripts,
                const std::string& gnuplot = "gnuplot", int jobs = 2);

// Whether `gnuplot` can be found (for tests that need it).
bool GnuplotAvailable(const std::string& gnuplot = "gnuplot");

}  // namespace tokrl::report

#endif  // TOKRL_REPORT_PLOTS_H_
