#include "tokrl/io/metrics_logger.h"

#include <algorithm>
#include <charconv>
#include <nlohmann/json.hpp>
#include <string_view>
#include <system_error>

#include "tokrl/core/check.h"
#include "tokrl/io/atomic_file.h"
#include "tokrl/io/run_dir.h"
#include "tokrl/io/tfevents.h"

namespace tokrl::io {
namespace {

namespace fs = std::filesystem;

constexpr const char* kCsvName = run_dir::kMetricsCsv;
constexpr const char* kJsonlName = run_dir::kMetricsJsonl;

struct Lines {
  std::vector<std::string_view> complete;  // without their '\n'
  bool torn = false;  // the text ends in a line without '\n'
};

Lines SplitLines(std::string_view text) {
  Lines lines;
  size_t start = 0;
  while (start < text.size()) {
    const size_t end = text.find('\n', start);
    if (end == std::string_view::npos) {
      lines.torn = true;
      break;
    }
    lines.complete.push_back(text.substr(start, end - start));
    start = end + 1;
  }
  return lines;
}

std::vector<std::string> SplitCsv(std::string_view line) {
  std::vector<std::string> fields;
  size_t start = 0;
  while (true) {
    const size_t comma = line.find(',', start);
    fields.emplace_back(line.substr(start, comma - start));
    if (comma == std::string_view::npos) break;
    start = comma + 1;
  }
  return fields;
}

std::optional<int64_t> ParseInt(std::string_view text) {
  int64_t value = 0;
  const char* end = text.data() + text.size();
  const auto [ptr, ec] = std::from_chars(text.data(), end, value);
  if (ec != std::errc() || ptr != end || text.empty()) return std::nullopt;
  return value;
}

// Shortest text that parses back to the same double.
std::string FormatDouble(double value) {
  char buffer[64];
  const auto [ptr, ec] = std::to_chars(buffer, buffer + sizeof(buffer), value);
  return std::string(buffer, ptr);
}

std::string JoinColumns(const std::vector<std::string>& columns) {
  std::string out;
  for (const std::string& column : columns) {
    if (!out.empty()) out += ", ";
    out += column;
  }
  return out;
}

void CheckKey(const std::string& key) {
  TOKRL_CHECK(!key.empty()) << "metric names must not be empty";
  TOKRL_CHECK(key != "step")
      << "'step' is reserved and cannot be a metric name";
  TOKRL_CHECK(key.find_first_of(",\"\r\n") == std::string::npos)
      << "metric name '" << key
      << "' contains one of , \" \\r \\n (not allowed in CSV columns)";
}

[[noreturn]] void FailLine(const fs::path& path, size_t line_index,
                           const std::string& what) {
  TOKRL_FAIL() << "'" << path.string() << "' line " << line_index + 1 << ": "
               << what;
}

void CheckStream(const std::ofstream& out, const fs::path& path) {
  if (!out) {
    TOKRL_FAIL() << "cannot write '" << path.string()
                 << "': " << std::generic_category().message(errno);
  }
}

}  // namespace

MetricsLogger::MetricsLogger(const fs::path& run_dir, bool tensorboard,
                             std::optional<int64_t> resume_step)
    : MetricsLogger(run_dir, MetricsLoggerOptions{.tensorboard = tensorboard,
                                                  .resume_step = resume_step,
                                                  .columns = {}}) {}

MetricsLogger::MetricsLogger(const fs::path& run_dir,
                             const MetricsLoggerOptions& options)
    : run_dir_(run_dir) {
  std::error_code ec;
  fs::create_directories(run_dir_, ec);
  if (ec) {
    TOKRL_FAIL() << "cannot create run directory '" << run_dir_.string()
                 << "': " << ec.message();
  }
  if (!options.columns.empty()) SetColumns(options.columns);
  OpenCsv(options.resume_step);
  OpenJsonl(options.resume_step);
  if (options.tensorboard) {
    tensorboard_ = std::make_unique<TfEventsWriter>(run_dir_);
    if (options.resume_step) {
      // TensorBoard purges the points it has at steps >= this one, i.e. the
      // ones the crashed run wrote after its checkpoint.
      tensorboard_->AddSessionStart(*options.resume_step + 1);
      tensorboard_->Flush();
    }
  }
}

MetricsLogger::~MetricsLogger() = default;

fs::path MetricsLogger::csv_path() const { return run_dir_ / kCsvName; }
fs::path MetricsLogger::jsonl_path() const { return run_dir_ / kJsonlName; }
fs::path MetricsLogger::tfevents_path() const {
  return tensorboard_ ? tensorboard_->path() : fs::path();
}

void MetricsLogger::SetColumns(std::vector<std::string> columns) {
  std::set<std::string> column_set;
  for (const std::string& column : columns) {
    CheckKey(column);
    TOKRL_CHECK(column_set.insert(column).second)
        << "metrics column '" << column << "' is listed twice";
  }
  columns_ = std::move(columns);
  column_set_ = std::move(column_set);
}

void MetricsLogger::NoteStep(int64_t step) {
  last_step_ = last_step_ ? std::max(*last_step_, step) : step;
}

void MetricsLogger::OpenCsv(std::optional<int64_t> resume_step) {
  const fs::path path = csv_path();
  if (fs::exists(path)) {
    const std::string text = ReadFile(path);
    const Lines lines = SplitLines(text);
    bool rewrite = lines.torn;
    std::string kept;
    if (!lines.complete.empty()) {
      const std::vector<std::string> header = SplitCsv(lines.complete[0]);
      if (header.size() < 2 || header[0] != "step") {
        FailLine(path, 0,
                 "header must be 'step,<column>,...', got '" +
                     std::string(lines.complete[0]) + "'");
      }
      std::vector<std::string> existing(header.begin() + 1, header.end());
      if (columns_.empty()) {
        SetColumns(std::move(existing));
      } else if (existing != columns_) {
        FailLine(path, 0,
                 "existing columns (" + JoinColumns(existing) +
                     ") differ from the declared columns (" +
                     JoinColumns(columns_) + ")");
      }
      csv_has_header_ = true;
      kept.append(lines.complete[0]).push_back('\n');
    }
    for (size_t i = 1; i < lines.complete.size(); ++i) {
      const std::string_view line = lines.complete[i];
      const std::vector<std::string> fields = SplitCsv(line);
      if (fields.size() != columns_.size() + 1) {
        FailLine(path, i,
                 "expected " + std::to_string(columns_.size() + 1) +
                     " fields, got " + std::to_string(fields.size()));
      }
      const std::optional<int64_t> step = ParseInt(fields[0]);
      if (!step) FailLine(path, i, "bad step '" + fields[0] + "'");
      if (resume_step && *step > *resume_step) {
        rewrite = true;
        continue;
      }
      NoteStep(*step);
      kept.append(line).push_back('\n');
    }
    if (rewrite) WriteFileAtomic(path, kept);
  }
  csv_.open(path, std::ios::binary | std::ios::app);
  CheckStream(csv_, path);
}

void MetricsLogger::OpenJsonl(std::optional<int64_t> resume_step) {
  const fs::path path = jsonl_path();
  if (fs::exists(path)) {
    const std::string text = ReadFile(path);
    const Lines lines = SplitLines(text);
    bool rewrite = lines.torn;
    std::string kept;
    for (size_t i = 0; i < lines.complete.size(); ++i) {
      const std::string_view line = lines.complete[i];
      const nlohmann::json row =
          nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
      if (!row.is_object() || !row.contains("step") ||
          !row["step"].is_number_integer()) {
        FailLine(path, i, "not a JSON object with an integer \"step\"");
      }
      const auto step = row["step"].get<int64_t>();
      if (resume_step && step > *resume_step) {
        rewrite = true;
        continue;
      }
      NoteStep(step);
      kept.append(line).push_back('\n');
    }
    if (rewrite) WriteFileAtomic(path, kept);
  }
  jsonl_.open(path, std::ios::binary | std::ios::app);
  CheckStream(jsonl_, path);
}

void MetricsLogger::Log(int64_t step,
                        const std::map<std::string, double>& values) {
  // Validate everything first so a rejected row leaves every sink untouched.
  TOKRL_CHECK(!values.empty())
      << "MetricsLogger::Log(step " << step << "): no values";
  for (const auto& [key, value] : values) {
    CheckKey(key);
    if (!columns_.empty() && column_set_.count(key) == 0) {
      TOKRL_FAIL() << "metric '" << key << "' (step " << step
                   << ") is not a column of '" << csv_path().string()
                   << "' (columns: " << JoinColumns(columns_)
                   << "); the columns are fixed by the first row, so declare "
                      "every metric in MetricsLoggerOptions::columns or log "
                      "all of them in the first row";
    }
  }
  if (last_step_ && step < *last_step_) {
    TOKRL_FAIL() << "metrics step " << step
                 << " is before the last logged step " << *last_step_ << " in '"
                 << run_dir_.string()
                 << "' (resuming? pass the checkpoint step as resume_step)";
  }

  if (columns_.empty()) {
    std::vector<std::string> keys;
    for (const auto& entry : values) keys.push_back(entry.first);
    SetColumns(std::move(keys));
  }

  std::string csv_text;
  if (!csv_has_header_) {
    csv_text = "step";
    for (const std::string& column : columns_) csv_text += "," + column;
    csv_text += '\n';
  }
  csv_text += std::to_string(step);
  for (const std::string& column : columns_) {
    csv_text += ',';
    const auto it = values.find(column);
    if (it != values.end()) csv_text += FormatDouble(it->second);
  }
  csv_text += '\n';
  csv_.write(csv_text.data(), static_cast<std::streamsize>(csv_text.size()));
  csv_.flush();
  CheckStream(csv_, csv_path());
  csv_has_header_ = true;

  nlohmann::ordered_json row;
  row["step"] = step;
  for (const auto& [key, value] : values) row[key] = value;
  jsonl_ << row.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace)
         << '\n';
  jsonl_.flush();
  CheckStream(jsonl_, jsonl_path());

  if (tensorboard_) {
    for (const auto& [key, value] : values) {
      tensorboard_->AddScalar(key, value, step);
    }
    tensorboard_->Flush();
  }
  last_step_ = step;
}

}  // namespace tokrl::io
