#include "tokrl/env/env_options.h"

#include <cerrno>
#include <cstdlib>
#include <sstream>

#include "tokrl/core/check.h"

namespace tokrl {
namespace {

std::string Trim(const std::string& s) {
  const auto begin = s.find_first_not_of(" \t");
  if (begin == std::string::npos) return "";
  const auto end = s.find_last_not_of(" \t");
  return s.substr(begin, end - begin + 1);
}

}  // namespace

double EnvOptions::GetDouble(const std::string& key, double fallback, double lo,
                             double hi) {
  read_.insert(key);
  auto it = values_.find(key);
  if (it == values_.end()) return fallback;
  const std::string& text = it->second;
  char* end = nullptr;
  errno = 0;
  const double value = std::strtod(text.c_str(), &end);
  if (text.empty() || *end != '\0' || errno != 0) {
    TOKRL_FAIL() << "option '" << key << "': '" << text << "' is not a number";
  }
  if (!(value >= lo && value <= hi)) {
    TOKRL_FAIL() << "option '" << key << "': " << text << " is out of range ["
                 << lo << ", " << hi << "]";
  }
  return value;
}

int EnvOptions::GetInt(const std::string& key, int fallback, int lo, int hi) {
  read_.insert(key);
  auto it = values_.find(key);
  if (it == values_.end()) return fallback;
  const std::string& text = it->second;
  char* end = nullptr;
  errno = 0;
  const long long value = std::strtoll(text.c_str(), &end, 10);
  if (text.empty() || *end != '\0' || errno != 0) {
    TOKRL_FAIL() << "option '" << key << "': '" << text
                 << "' is not an integer";
  }
  if (value < lo || value > hi) {
    TOKRL_FAIL() << "option '" << key << "': " << text << " is out of range ["
                 << lo << ", " << hi << "]";
  }
  return static_cast<int>(value);
}

bool EnvOptions::GetBool(const std::string& key, bool fallback) {
  read_.insert(key);
  auto it = values_.find(key);
  if (it == values_.end()) return fallback;
  const std::string& text = it->second;
  if (text == "true" || text == "1" || text == "yes") return true;
  if (text == "false" || text == "0" || text == "no") return false;
  TOKRL_FAIL() << "option '" << key << "': '" << text
               << "' is not a boolean (use true or false)";
}

void EnvOptions::Finish(const std::string& env_id) const {
  for (const auto& [key, value] : values_) {
    if (read_.count(key) == 0) {
      std::ostringstream known;
      for (const auto& k : read_) known << (known.tellp() > 0 ? ", " : "") << k;
      TOKRL_FAIL() << "unknown option '" << key << "' for env '" << env_id
                   << "' (known options: " << known.str() << ")";
    }
  }
}

std::string EnvOptions::ToString() const {
  std::string out;
  for (const auto& [key, value] : values_) {
    if (!out.empty()) out += ',';
    out += key + '=' + value;
  }
  return out;
}

std::pair<std::string, EnvOptions> ParseEnvId(const std::string& text) {
  const auto open = text.find('(');
  if (open == std::string::npos) {
    if (text.find(')') != std::string::npos) {
      TOKRL_FAIL() << "malformed env id '" << text << "': stray ')'";
    }
    return {Trim(text), EnvOptions()};
  }
  if (text.back() != ')' || text.find('(', open + 1) != std::string::npos) {
    TOKRL_FAIL() << "malformed env id '" << text
                 << "': expected name(key=value,...)";
  }
  const std::string name = Trim(text.substr(0, open));
  const std::string body = text.substr(open + 1, text.size() - open - 2);
  EnvOptions options;
  std::stringstream items(body);
  std::string item;
  while (std::getline(items, item, ',')) {
    if (Trim(item).empty()) continue;
    const auto eq = item.find('=');
    if (eq == std::string::npos) {
      TOKRL_FAIL() << "malformed env option '" << Trim(item) << "' in '" << text
                   << "': expected key=value";
    }
    const std::string key = Trim(item.substr(0, eq));
    const std::string value = Trim(item.substr(eq + 1));
    if (key.empty()) {
      TOKRL_FAIL() << "malformed env option in '" << text << "': empty key";
    }
    if (options.Has(key)) {
      TOKRL_FAIL() << "duplicate env option '" << key << "' in '" << text
                   << "'";
    }
    options.Set(key, value);
  }
  return {name, options};
}

}  // namespace tokrl
