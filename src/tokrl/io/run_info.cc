#include "tokrl/io/run_info.h"

#include <sched.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <chrono>
#include <ctime>
#include <fstream>
#include <nlohmann/json.hpp>
#include <thread>

namespace tokrl::io {
namespace {

constexpr char kUnknown[] = "unknown";

std::string OrUnknown(std::string text) {
  return text.empty() ? std::string(kUnknown) : text;
}

std::string Trim(const std::string& text) {
  const size_t begin = text.find_first_not_of(" \t\r\n");
  if (begin == std::string::npos) return "";
  const size_t end = text.find_last_not_of(" \t\r\n");
  return text.substr(begin, end - begin + 1);
}

std::string GitCommit() {
#ifdef TOKRL_GIT_COMMIT
  return OrUnknown(TOKRL_GIT_COMMIT);
#else
  return kUnknown;
#endif
}

std::string Hostname() {
  char buffer[256] = {};
  if (::gethostname(buffer, sizeof(buffer) - 1) != 0) return kUnknown;
  return OrUnknown(buffer);
}

// x86 kernels report "model name"; ARM kernels often only "Hardware" or the
// numeric "CPU part", so fall back through those.
std::string CpuModel() {
  std::ifstream cpuinfo("/proc/cpuinfo");
  std::string line;
  std::string hardware;
  std::string cpu_part;
  while (std::getline(cpuinfo, line)) {
    const size_t colon = line.find(':');
    if (colon == std::string::npos) continue;
    const std::string key = Trim(line.substr(0, colon));
    const std::string value = Trim(line.substr(colon + 1));
    if (value.empty()) continue;
    if (key == "model name") return value;
    if (key == "Hardware" && hardware.empty()) hardware = value;
    if (key == "CPU part" && cpu_part.empty()) cpu_part = "CPU part " + value;
  }
  if (!hardware.empty()) return hardware;
  return OrUnknown(cpu_part);
}

// CPUs this process may run on (respects taskset / container cpusets), which
// is what matters for throughput numbers.
int NumCores() {
  cpu_set_t set;
  CPU_ZERO(&set);
  if (::sched_getaffinity(0, sizeof(set), &set) == 0) {
    const int count = CPU_COUNT(&set);
    if (count > 0) return count;
  }
  return static_cast<int>(std::thread::hardware_concurrency());
}

std::string Os() {
  utsname name{};
  if (::uname(&name) != 0) return kUnknown;
  return std::string(name.sysname) + " " + name.release + " " + name.version +
         " " + name.machine;
}

std::string Compiler() {
#if defined(__clang__)
  return "clang " __VERSION__;
#elif defined(__GNUC__)
  return "gcc " __VERSION__;
#else
  return OrUnknown(__VERSION__);
#endif
}

}  // namespace

std::string FormatIsoUtc(int64_t unix_seconds) {
  const auto time = static_cast<std::time_t>(unix_seconds);
  std::tm tm{};
  if (::gmtime_r(&time, &tm) == nullptr) return kUnknown;
  char buffer[64];
  const size_t n =
      std::strftime(buffer, sizeof(buffer), "%Y-%m-%dT%H:%M:%SZ", &tm);
  return n == 0 ? std::string(kUnknown) : std::string(buffer, n);
}

RunInfo CollectRunInfo(std::string tokrl_version,
                       std::vector<std::string> command_line) {
  RunInfo info;
  info.tokrl_version = OrUnknown(std::move(tokrl_version));
  info.git_commit = GitCommit();
  info.hostname = Hostname();
  info.cpu_model = CpuModel();
  info.num_cores = NumCores();
  info.os = Os();
  info.compiler = Compiler();
  info.start_time =
      FormatIsoUtc(std::chrono::duration_cast<std::chrono::seconds>(
                       std::chrono::system_clock::now().time_since_epoch())
                       .count());
  info.command_line = std::move(command_line);
  return info;
}

std::string RunInfo::ToJson() const {
  // Ordered so the file reads top-down like the struct.
  nlohmann::ordered_json json;
  json["tokrl_version"] = tokrl_version;
  json["git_commit"] = git_commit;
  json["hostname"] = hostname;
  json["cpu_model"] = cpu_model;
  json["num_cores"] = num_cores;
  json["os"] = os;
  json["compiler"] = compiler;
  json["start_time"] = start_time;
  json["command_line"] = command_line;
  // Replace (not throw on) invalid UTF-8, e.g. from a non-UTF-8 argv.
  return json.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) +
         "\n";
}

}  // namespace tokrl::io
