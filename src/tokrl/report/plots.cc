#include "tokrl/report/plots.h"

#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <deque>
#include <sstream>
#include <system_error>
#include <utility>

#include "tokrl/core/check.h"
#include "tokrl/core/subprocess.h"
#include "tokrl/io/atomic_file.h"

namespace tokrl::report {
namespace fs = std::filesystem;
namespace {

// seaborn's "colorblind" palette (the one rliable's examples use).
constexpr const char* kPalette[] = {"#0173b2", "#de8f05", "#029e73", "#d55e00",
                                    "#cc78bc", "#ca9161", "#fbafe4", "#949494",
                                    "#ece133", "#56b4e9"};

// Enough digits to round-trip what matters in a plot, without the noise of
// %.17g in files users read.
std::string Num(double x) {
  char buffer[32];
  std::snprintf(buffer, sizeof(buffer), "%.10g", x);
  return buffer;
}

// One line for a script comment.
std::string OneLine(std::string text) {
  std::replace(text.begin(), text.end(), '\n', ' ');
  return text;
}

void CheckName(const std::string& name) {
  TOKRL_CHECK(!name.empty() && SafeFileName(name) == name)
      << "invalid plot name '" << name << "' (use SafeFileName)";
}

// A double-quoted string for a data file column (data files are read as
// data: no command substitution there).
std::string DataString(std::string_view text) {
  std::string out = "\"";
  for (char c : text) {
    if (c == '\\' || c == '"') out.push_back('\\');
    out.push_back(c == '\n' || c == '\r' ? ' ' : c);
  }
  out.push_back('"');
  return out;
}

// "#0173b2" -> 94130, for gnuplot's `lc rgb variable` column.
long ColorValue(const std::string& color) {
  TOKRL_CHECK(color.size() == 7 && color[0] == '#')
      << "color '" << color << "' is not #rrggbb";
  return std::stol(color.substr(1), nullptr, 16);
}

// Both terminals run the same commands: a `do for` over the two formats
// keeps one copy of the plot commands for users to edit.
std::string Preamble(const std::string& name, const std::string& title,
                     int width, int height) {
  std::ostringstream s;
  s << "# " << OneLine(title) << "\n"
    << "# Written by `tokrl report`; data in " << name << ".dat.\n"
    << "# Edit and re-run in this folder: gnuplot " << name << ".gp\n"
    << "# (writes " << name << ".svg and " << name << ".png)\n"
    << "set encoding utf8\n"
    << "do for [fmt in \"svg png\"] {\n"
    << "  if (fmt eq \"svg\") {\n"
    << "    set terminal svg size " << width << "," << height
    << " noenhanced font \"Arial,13\" background rgb \"white\"\n"
    << "  } else {\n"
    << "    set terminal pngcairo size " << width << "," << height
    << " noenhanced font \"Arial,11\" background rgb \"white\"\n"
    << "  }\n"
    << "  set output \"" << name << ".\".fmt\n";
  return s.str();
}

// A round tic spacing giving about four tics over `range` (gnuplot's own
// choice crowds the narrow interval panels).
double TicStep(double range) {
  const double raw = range / 4;
  const double magnitude = std::pow(10.0, std::floor(std::log10(raw)));
  for (double m : {1.0, 2.0, 2.5, 5.0}) {
    if (m * magnitude >= raw) return m * magnitude;
  }
  return 10 * magnitude;
}

std::string Epilogue() { return "  unset output\n}\n"; }

std::string LastLines(const fs::path& file, size_t count) {
  std::string text;
  try {
    text = io::ReadFile(file);
  } catch (const Error&) {
    return "";
  }
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    if (!line.empty()) lines.push_back(line);
  }
  std::string out;
  for (size_t i = lines.size() > count ? lines.size() - count : 0;
       i < lines.size(); ++i) {
    out.append(out.empty() ? "" : "\n").append(lines[i]);
  }
  return out;
}

fs::path WithExtension(const fs::path& script, const char* ext) {
  fs::path out = script;
  out.replace_extension(ext);
  return out;
}

}  // namespace

std::string VariantColor(size_t index) {
  return kPalette[index % std::size(kPalette)];
}

std::string SafeFileName(std::string_view name) {
  std::string out;
  for (char c : name) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                    (c >= '0' && c <= '9') || c == '_' || c == '-' || c == '.';
    out.push_back(ok ? c : '_');
  }
  if (out.empty() || out.front() == '.') out.insert(out.begin(), '_');
  return out;
}

std::string GnuplotString(std::string_view text) {
  // Single quotes: gnuplot expands `command` and @macro in double-quoted
  // strings (a variant label must never run a shell command), but not in
  // single-quoted ones, whose only escape is '' for a quote. They cannot
  // hold a line break.
  std::string out = "'";
  for (char c : text) {
    if (c == '\'') {
      out.append("''");
    } else if (c == '\n' || c == '\r') {
      out.push_back(' ');
    } else {
      out.push_back(c);
    }
  }
  out.push_back('\'');
  return out;
}

fs::path WriteLinePlot(const fs::path& dir, const LinePlot& plot) {
  CheckName(plot.name);
  std::ostringstream data;
  data << "# " << OneLine(plot.title) << "\n"
       << "# One block per series (gnuplot index i, in legend order).\n"
       << "# columns: x y lower upper (lower/upper = y when no band)\n";
  struct Written {
    const Series* series;
    int index;
  };
  std::vector<Written> written;
  for (const Series& s : plot.series) {
    TOKRL_CHECK_EQ(s.x.size(), s.y.size()) << "series '" << s.name << "'";
    TOKRL_CHECK(s.lower.size() == s.upper.size() &&
                (s.lower.empty() || s.lower.size() == s.x.size()))
        << "series '" << s.name << "': band length mismatch";
    ColorValue(s.color);  // validates
    if (s.x.empty()) continue;
    data << "# series " << written.size() << ": " << OneLine(s.name) << "\n";
    for (size_t i = 0; i < s.x.size(); ++i) {
      const bool band = !s.lower.empty();
      data << Num(s.x[i]) << " " << Num(s.y[i]) << " "
           << Num(band ? s.lower[i] : s.y[i]) << " "
           << Num(band ? s.upper[i] : s.y[i]) << "\n";
    }
    data << "\n\n";
    written.push_back({&s, static_cast<int>(written.size())});
  }
  TOKRL_CHECK(!written.empty()) << "plot '" << plot.name << "' has no points";

  const std::string dat = GnuplotString(plot.name + ".dat");
  std::ostringstream gp;
  // The legend lists one series a line below the axes: grow to keep the
  // axes' height.
  const int height = plot.height + 20 * static_cast<int>(written.size());
  gp << Preamble(plot.name, plot.title, plot.width, height) << "  set title "
     << GnuplotString(plot.title) << " font \",14\"\n"
     << "  set xlabel " << GnuplotString(plot.xlabel) << "\n"
     << "  set ylabel " << GnuplotString(plot.ylabel) << "\n"
     << "  set grid lc rgb \"#dddddd\"\n"
     << "  set border 3\n  set tics nomirror\n"
     // Below the axes, the legend never hides a curve.
     << "  set key outside below center vertical Left reverse noautotitle\n"
     << "  set style fill transparent solid 0.2 noborder\n";
  if (!plot.xformat.empty()) {
    gp << "  set format x " << GnuplotString(plot.xformat) << "\n";
  }
  if (plot.ymin || plot.ymax) {
    gp << "  set yrange [" << (plot.ymin ? Num(*plot.ymin) : "*") << ":"
       << (plot.ymax ? Num(*plot.ymax) : "*") << "]\n";
  }
  gp << "  plot \\\n";
  std::vector<std::string> parts;
  for (const auto& w : written) {
    if (w.series->lower.empty()) continue;
    parts.push_back("    " + dat + " index " + std::to_string(w.index) +
                    " using 1:3:4 with filledcurves lc rgb \"" +
                    w.series->color + "\" notitle");
  }
  for (const auto& w : written) {
    // Few points: mark them, a lone point would otherwise be invisible.
    const bool points = w.series->x.size() < 30;
    std::string part = "    ";
    part.append(dat)
        .append(" index ")
        .append(std::to_string(w.index))
        .append(" using 1:2 with ")
        .append(points ? "linespoints pt 7 ps 0.6" : "lines")
        .append(" lw 2 lc rgb \"")
        .append(w.series->color)
        .append("\" title ")
        .append(GnuplotString(w.series->name));
    parts.push_back(part);
  }
  for (size_t i = 0; i < parts.size(); ++i) {
    gp << parts[i] << (i + 1 < parts.size() ? ", \\\n" : "\n");
  }
  gp << Epilogue();

  const fs::path script = dir / (plot.name + ".gp");
  io::WriteFileAtomic(dir / (plot.name + ".dat"), data.str());
  io::WriteFileAtomic(script, gp.str());
  return script;
}

fs::path WriteIntervalPlot(const fs::path& dir, const IntervalPlot& plot) {
  CheckName(plot.name);
  TOKRL_CHECK(!plot.panels.empty() && !plot.rows.empty())
      << "interval plot '" << plot.name << "' needs panels and rows";
  const size_t panels = plot.panels.size();
  const size_t rows = plot.rows.size();
  std::ostringstream data;
  data << "# " << OneLine(plot.title) << "\n# columns: y color";
  for (const auto& p : plot.panels) {
    data << " | " << p << ": lower point upper";
  }
  data << " | name\n";
  size_t longest = 0;
  for (size_t r = 0; r < rows; ++r) {
    const IntervalRow& row = plot.rows[r];
    TOKRL_CHECK_EQ(row.intervals.size(), panels) << "row '" << row.name << "'";
    longest = std::max(longest, row.name.size());
    data << rows - 1 - r << " " << ColorValue(row.color);
    for (const auto& ci : row.intervals) {
      data << " " << Num(ci.lower) << " " << Num(ci.point) << " "
           << Num(ci.upper);
    }
    data << " " << DataString(row.name) << "\n";
  }

  // Layout in pixels, turned into screen fractions: the first panel's y
  // labels need room for the longest variant name (~7 px a character).
  const int panel_width = 260;
  const double label_px = 24.0 + 7.0 * static_cast<double>(longest);
  const int width =
      static_cast<int>(label_px) + panel_width * static_cast<int>(panels) + 20;
  const int height = 150 + 42 * static_cast<int>(rows);
  const double left = label_px / width;
  const double right = 1.0 - 20.0 / width;
  const double bottom = 62.0 / height;
  const double top = 1.0 - 72.0 / height;

  std::ostringstream gp;
  gp << Preamble(plot.name, plot.title, width, height)
     << "  set multiplot layout 1," << panels << " margins " << Num(left) << ","
     << Num(right) << "," << Num(bottom) << "," << Num(top)
     << " spacing 0.012,0 title " << GnuplotString(plot.title)
     << " font \",14\"\n"
     << "  set label 1 " << GnuplotString(plot.xlabel) << " at screen 0.5*("
     << Num(left) << "+" << Num(right) << "), screen " << Num(16.0 / height)
     << " center\n"
     << "  set yrange [-0.6:" << Num(static_cast<double>(rows) - 0.4) << "]\n"
     << "  set grid xtics lc rgb \"#dddddd\"\n"
     << "  set border 1\n  set xtics nomirror scale 0.5\n"
     << "  set format x \"%g\"\n"
     << "  set style fill solid 0.75 noborder\n"
     << "  unset key\n";
  std::string labels, blanks;
  for (size_t r = 0; r < rows; ++r) {
    const std::string y = std::to_string(rows - 1 - r);
    const char* sep = r + 1 < rows ? ", " : "";
    labels.append(GnuplotString(plot.rows[r].name)).append(" ").append(y);
    labels.append(sep);
    blanks.append("\"\" ").append(y).append(sep);
  }
  const std::string dat = GnuplotString(plot.name + ".dat");
  for (size_t p = 0; p < panels; ++p) {
    // Each panel's own x range, padded so bars never touch the frame.
    double lo = plot.rows[0].intervals[p].lower;
    double hi = plot.rows[0].intervals[p].upper;
    for (const auto& row : plot.rows) {
      const auto& ci = row.intervals[p];
      lo = std::min({lo, ci.lower, ci.point});
      hi = std::max({hi, ci.upper, ci.point});
    }
    double pad = 0.1 * (hi - lo);
    if (!(pad > 1e-12)) pad = std::max(0.05, 0.05 * std::abs(lo));
    const size_t c = 3 + 3 * p;  // lower; point c + 1; upper c + 2
    gp << "  set title " << GnuplotString(plot.panels[p]) << "\n"
       << "  set xtics " << Num(TicStep(hi - lo + 2 * pad)) << "\n"
       << "  set ytics (" << (p == 0 ? labels : blanks) << ") scale 0\n"
       << "  set xrange [" << Num(lo - pad) << ":" << Num(hi + pad) << "]\n"
       << "  plot " << dat << " using " << c + 1 << ":1:" << c << ":" << c + 2
       << ":($1-0.3):($1+0.3):2 with boxxyerror lc rgb variable, \\\n"
       << "       " << dat << " using " << c + 1
       << ":($1-0.3):(0):(0.6) with vectors nohead lw 2.5 lc rgb "
          "\"black\"\n";
  }
  gp << "  unset multiplot\n" << Epilogue();

  const fs::path script = dir / (plot.name + ".gp");
  io::WriteFileAtomic(dir / (plot.name + ".dat"), data.str());
  io::WriteFileAtomic(script, gp.str());
  return script;
}

bool GnuplotAvailable(const std::string& gnuplot) {
  if (gnuplot.find('/') != std::string::npos) {
    return ::access(gnuplot.c_str(), X_OK) == 0;
  }
  return FindProgram(gnuplot).has_value();
}

void RunGnuplot(const std::vector<fs::path>& scripts,
                const std::string& gnuplot, int jobs) {
  if (scripts.empty()) return;
  if (!GnuplotAvailable(gnuplot)) {
    TOKRL_FAIL() << "gnuplot not found: install it with apt-get install "
                    "gnuplot-nox (looked for '"
                 << gnuplot << "')";
  }
  struct Job {
    Process process;
    fs::path script;
  };
  std::deque<Job> running;
  std::vector<std::string> failures;
  auto finish = [&failures](Job& job) {
    const int status = job.process.Wait();
    const fs::path log = WithExtension(job.script, ".log");
    std::error_code ec;
    const bool outputs =
        fs::is_regular_file(WithExtension(job.script, ".svg"), ec) &&
        fs::is_regular_file(WithExtension(job.script, ".png"), ec);
    if (status == 0 && outputs) return;
    std::string message = "gnuplot failed on ";
    message.append(job.script.string())
        .append(" (")
        .append(status == 0 ? std::string("no .svg/.png written")
                            : DescribeExitStatus(status))
        .append("); see ")
        .append(log.string());
    const std::string tail = LastLines(log, 6);
    if (!tail.empty()) message.append(":\n").append(tail);
    failures.push_back(message);
  };
  for (const auto& script : scripts) {
    if (static_cast<int>(running.size()) >= std::max(jobs, 1)) {
      finish(running.front());
      running.pop_front();
    }
    // Stale outputs would hide a failure; the log is appended to, so start
    // it afresh.
    std::error_code ec;
    for (const char* ext : {".svg", ".png", ".log"}) {
      fs::remove(WithExtension(script, ext), ec);
    }
    ProcessOptions options;
    options.output = WithExtension(script, ".log");
    options.working_dir = script.parent_path();
    running.push_back(
        {Process::Spawn({gnuplot, script.filename().string()}, options),
         script});
  }
  while (!running.empty()) {
    finish(running.front());
    running.pop_front();
  }
  if (!failures.empty()) {
    std::string all;
    for (size_t i = 0; i < failures.size(); ++i) {
      if (i > 0) all.append("\n");
      all.append(failures[i]);
    }
    TOKRL_FAIL() << all;
  }
}

}  // namespace tokrl::report
