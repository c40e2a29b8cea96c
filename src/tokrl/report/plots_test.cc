#include "tokrl/report/plots.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <string>
#include <vector>

#include "tokrl/core/testing.h"
#include "tokrl/io/atomic_file.h"
#include "tokrl/report/testing.h"

namespace tokrl::report {
namespace {

namespace fs = std::filesystem;

LinePlot TwoSeries() {
  LinePlot plot;
  plot.name = "curve_breakout";
  plot.title = "breakout \"quoted\"";
  plot.xlabel = "env steps";
  plot.ylabel = "train/episode_return";
  plot.xformat = "%.1s%c";
  Series a;
  a.name = "dqn flatten+dense";
  a.color = VariantColor(0);
  a.x = {0, 1000, 2000};
  a.y = {0, 1, 2};
  a.lower = {0, 0.5, 1.5};
  a.upper = {0, 1.5, 2.5};
  Series empty;
  empty.name = "no points";
  empty.color = VariantColor(1);
  Series b;
  b.name = "space_invaders_variant";
  b.color = VariantColor(2);
  b.x = {0, 2000};
  b.y = {1, 3};
  plot.series = {a, empty, b};
  return plot;
}

IntervalPlot Intervals() {
  IntervalPlot plot;
  plot.name = "aggregates";
  plot.title = "Aggregate metrics";
  plot.xlabel = "MinAtar-normalized score";
  plot.panels = {"Median", "IQM"};
  plot.rows = {{"flatten", VariantColor(0), {{0.1, 0.2, 0.3}, {0.2, 0.3, 0.4}}},
               {"dqn perconv+softmoe x4 experts",
                VariantColor(1),
                {{0.5, 0.6, 0.7}, {0.6, 0.7, 0.9}}}};
  return plot;
}

void WriteExecutable(const fs::path& file, const std::string& text) {
  WriteText(file, text);
  ::chmod(file.c_str(), 0755);
}

TEST(PlotTest, Names) {
  EXPECT_EQ(SafeFileName("curve_space_invaders"), "curve_space_invaders");
  EXPECT_EQ(SafeFileName("dqn perconv+softmoe/x"), "dqn_perconv_softmoe_x");
  EXPECT_EQ(SafeFileName(""), "_");
  EXPECT_EQ(SafeFileName(".hidden"), "_.hidden");
  EXPECT_EQ(GnuplotString("a \"b\" \\c 'd'\ne"), "'a \"b\" \\c ''d'' e'");
  EXPECT_EQ(VariantColor(0), "#0173b2");
  EXPECT_EQ(VariantColor(10), VariantColor(0));
  EXPECT_NE(VariantColor(1), VariantColor(0));
}

TEST(PlotTest, WritesLinePlotScriptAndData) {
  ScopedTempDir tmp("plots_line");
  const fs::path script = WriteLinePlot(tmp.path(), TwoSeries());
  EXPECT_EQ(script, tmp.path() / "curve_breakout.gp");
  const std::string gp = io::ReadFile(script);
  const std::string dat = io::ReadFile(tmp.path() / "curve_breakout.dat");
  // Both terminals, one copy of the commands.
  EXPECT_TRUE(Contains(gp, "do for [fmt in \"svg png\"]"));
  EXPECT_TRUE(Contains(gp, "set terminal svg size 720,520 noenhanced"));
  EXPECT_TRUE(Contains(gp, "set terminal pngcairo size 720,520 noenhanced"));
  EXPECT_TRUE(Contains(gp, "set output \"curve_breakout.\".fmt"));
  EXPECT_TRUE(Contains(gp, "set title 'breakout \"quoted\"'"));
  EXPECT_TRUE(Contains(gp, "set key outside below center vertical"));
  EXPECT_TRUE(Contains(gp, "set format x '%.1s%c'"));
  // The band of series 0, the lines of series 0 and of b (now index 1).
  EXPECT_TRUE(Contains(gp,
                       "index 0 using 1:3:4 with filledcurves lc rgb "
                       "\"#0173b2\" notitle"));
  EXPECT_TRUE(Contains(gp, "index 0 using 1:2 with linespoints"));
  EXPECT_TRUE(Contains(gp,
                       "index 1 using 1:2 with linespoints pt 7 ps 0.6 lw 2 "
                       "lc rgb \"#029e73\" title 'space_invaders_variant'"));
  EXPECT_FALSE(Contains(gp, "index 2"));
  EXPECT_FALSE(Contains(gp, "no points"));
  EXPECT_TRUE(Contains(dat,
                       "# series 0: dqn flatten+dense\n0 0 0 0\n1000 1 0.5 "
                       "1.5\n2000 2 1.5 2.5\n\n\n# series 1: "
                       "space_invaders_variant\n0 1 1 1\n2000 3 3 3\n"));
}

TEST(PlotTest, WritesIntervalPlot) {
  ScopedTempDir tmp("plots_interval");
  const fs::path script = WriteIntervalPlot(tmp.path(), Intervals());
  const std::string gp = io::ReadFile(script);
  const std::string dat = io::ReadFile(tmp.path() / "aggregates.dat");
  EXPECT_TRUE(Contains(gp, "set multiplot layout 1,2"));
  EXPECT_TRUE(Contains(gp, "set title 'Median'"));
  EXPECT_TRUE(Contains(gp, "set title 'IQM'"));
  EXPECT_TRUE(Contains(gp,
                       "set ytics ('flatten' 1, "
                       "'dqn perconv+softmoe x4 experts' 0) scale 0"));
  EXPECT_TRUE(
      Contains(gp, "using 4:1:3:5:($1-0.3):($1+0.3):2 with boxxyerror"));
  EXPECT_TRUE(Contains(gp, "using 7:1:6:8:"));
  // First row on top (y = rows - 1); color #0173b2 = 95154.
  EXPECT_TRUE(Contains(dat, "\n1 95154 0.1 0.2 0.3 0.2 0.3 0.4 \"flatten\"\n"));
  EXPECT_TRUE(Contains(dat, "\n0 14585605 0.5 0.6 0.7 0.6 0.7 0.9 "));
}

TEST(PlotTest, RejectsInvalidPlots) {
  ScopedTempDir tmp("plots_invalid");
  LinePlot plot = TwoSeries();
  plot.name = "bad name";
  EXPECT_TRUE(Contains(ErrorOf([&] { WriteLinePlot(tmp.path(), plot); }),
                       "invalid plot name 'bad name'"));
  plot = TwoSeries();
  plot.series = {plot.series[1]};
  EXPECT_TRUE(Contains(ErrorOf([&] { WriteLinePlot(tmp.path(), plot); }),
                       "plot 'curve_breakout' has no points"));
  plot = TwoSeries();
  plot.series[0].y.pop_back();
  EXPECT_TRUE(Contains(ErrorOf([&] { WriteLinePlot(tmp.path(), plot); }),
                       "series 'dqn flatten+dense'"));
  plot = TwoSeries();
  plot.series[0].color = "red";
  EXPECT_TRUE(Contains(ErrorOf([&] { WriteLinePlot(tmp.path(), plot); }),
                       "color 'red' is not #rrggbb"));
  IntervalPlot intervals = Intervals();
  intervals.rows[1].intervals.pop_back();
  EXPECT_TRUE(Contains(
      ErrorOf([&] { WriteIntervalPlot(tmp.path(), intervals); }), "row 'dqn"));
}

TEST(PlotTest, GnuplotMissing) {
  ScopedTempDir tmp("plots_missing");
  const fs::path script = WriteLinePlot(tmp.path(), TwoSeries());
  EXPECT_FALSE(GnuplotAvailable("tokrl-no-such-gnuplot"));
  EXPECT_TRUE(Contains(
      ErrorOf([&] { RunGnuplot({script}, "tokrl-no-such-gnuplot"); }),
      "gnuplot not found: install it with apt-get install gnuplot-nox"));
  EXPECT_TRUE(Contains(
      ErrorOf([&] { RunGnuplot({script}, (tmp.path() / "nope").string()); }),
      "gnuplot not found"));
  EXPECT_NO_THROW(RunGnuplot({}, "tokrl-no-such-gnuplot"));  // nothing to do
}

// Fake gnuplots: failures are reported with the script, the log and its
// last lines, without needing the real program.
TEST(PlotTest, GnuplotFailureNamesScriptAndLog) {
  ScopedTempDir tmp("plots_fail");
  const fs::path script = WriteLinePlot(tmp.path(), TwoSeries());
  const fs::path failing = tmp.path() / "failing_gnuplot";
  WriteExecutable(failing,
                  "#!/bin/sh\necho \"line 1: undefined variable: foo\" >&2\n"
                  "exit 3\n");
  std::string e = ErrorOf([&] { RunGnuplot({script}, failing.string()); });
  EXPECT_TRUE(Contains(e, "gnuplot failed on " + script.string() +
                              " (exit code 3); see " +
                              (tmp.path() / "curve_breakout.log").string()));
  EXPECT_TRUE(Contains(e, "undefined variable: foo"));

  const fs::path silent = tmp.path() / "silent_gnuplot";
  WriteExecutable(silent, "#!/bin/sh\nexit 0\n");
  e = ErrorOf([&] { RunGnuplot({script}, silent.string()); });
  EXPECT_TRUE(Contains(e, "(no .svg/.png written)"));

  // The fake runs in the script's folder and gets the script's file name.
  const fs::path touching = tmp.path() / "touching_gnuplot";
  WriteExecutable(touching,
                  "#!/bin/sh\nstem=${1%.gp}\ntouch \"$stem.svg\" "
                  "\"$stem.png\"\n");
  EXPECT_EQ(ErrorOf([&] { RunGnuplot({script}, touching.string()); }), "");
}

TEST(PlotTest, RealGnuplotDrawsSvgAndPng) {
  if (!GnuplotAvailable()) GTEST_SKIP() << "gnuplot is not installed";
  ScopedTempDir tmp("plots_real");
  const fs::path line = WriteLinePlot(tmp.path(), TwoSeries());
  const fs::path intervals = WriteIntervalPlot(tmp.path(), Intervals());
  RunGnuplot({line, intervals});
  for (const char* stem : {"curve_breakout", "aggregates"}) {
    const std::string svg =
        io::ReadFile(tmp.path() / (std::string(stem) + ".svg"));
    EXPECT_TRUE(Contains(svg, "<svg")) << stem;
    const std::string png =
        io::ReadFile(tmp.path() / (std::string(stem) + ".png"));
    ASSERT_GT(png.size(), 1000u) << stem;
    EXPECT_EQ(png.substr(1, 3), "PNG") << stem;
  }
  EXPECT_TRUE(Contains(io::ReadFile(tmp.path() / "curve_breakout.svg"),
                       "space_invaders_variant"));

  // A script error from the real gnuplot.
  WriteText(tmp.path() / "broken.gp", "plot nosuchfunction(x)\n");
  const std::string e =
      ErrorOf([&] { RunGnuplot({tmp.path() / "broken.gp"}); });
  EXPECT_TRUE(Contains(
      e, "gnuplot failed on " + (tmp.path() / "broken.gp").string() +
             " (exit code 1); see " + (tmp.path() / "broken.log").string()));
}

// Regression (issue 9.1): a variant label with backticks made gnuplot run
// a shell command while the report was drawn.
TEST(PlotTest, LabelsNeverRunCommands) {
  if (!GnuplotAvailable()) GTEST_SKIP() << "gnuplot is not installed";
  ScopedTempDir tmp("plots_injection");
  const fs::path marker = tmp.path() / "pwned";
  const std::string evil = "x`touch " + marker.string() + "` $(touch " +
                           marker.string() +
                           ") 'q' \"dq\" \\ @GPVAL_VERSION\nnext line";
  LinePlot line = TwoSeries();
  line.title = evil;
  line.xlabel = evil;
  line.series[0].name = evil;
  IntervalPlot intervals = Intervals();
  intervals.title = evil;
  intervals.panels[0] = evil;
  intervals.rows[1].name = evil;
  RunGnuplot({WriteLinePlot(tmp.path(), line),
              WriteIntervalPlot(tmp.path(), intervals)});
  EXPECT_FALSE(fs::exists(marker)) << "a label ran a shell command";
  // The label is drawn as written (line break as a space).
  EXPECT_TRUE(
      Contains(io::ReadFile(tmp.path() / "curve_breakout.svg"), "x`touch "));
}

}  // namespace
}  // namespace tokrl::report
