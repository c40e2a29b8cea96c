// Rendering of a computed report (report.h): the gnuplot plots and the
// three files. Formatting only: every number comes from ComputeReport's
// ReportResults; nothing here computes a statistic.
#ifndef TOKRL_REPORT_RENDER_H_
#define TOKRL_REPORT_RENDER_H_

#include <filesystem>
#include <string>
#include <vector>

#include "tokrl/report/report.h"

namespace tokrl::report {

// Writes the plot scripts and data into `dir` (see report.h for the stems,
// appended to `stems` in order) and returns the scripts for RunGnuplot.
std::vector<std::filesystem::path> WritePlots(const ReportResults& r,
                                              const ReportOptions& options,
                                              const std::filesystem::path& dir,
                                              std::vector<std::string>& stems);

// summary.md: the aggregate table and the per-game table, labels escaped.
std::string SummaryMarkdown(const ReportResults& r,
                            const ReportOptions& options);

// results.json: every number, the options and the runs.
std::string ResultsJson(const LoadedRuns& loaded, const ReportResults& r,
                        const ReportOptions& options);

// index.html: tables, the plots in `stems`, the list of runs.
std::string IndexHtml(const LoadedRuns& loaded, const ReportResults& r,
                      const ReportOptions& options,
                      const std::vector<std::string>& stems);

}  // namespace tokrl::report

#endif  // TOKRL_REPORT_RENDER_H_
