#include "tokrl/core/config.h"

#include <toml++/toml.h>

#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <nlohmann/json.hpp>
#include <sstream>

#include "tokrl/core/check.h"

namespace tokrl {
namespace {

const char* TypeName(const ConfigValue& v) {
  switch (v.index()) {
    case 0:
      return "a boolean";
    case 1:
      return "an integer";
    case 2:
      return "a float";
    default:
      return "a string";
  }
}

// Edit distance, for "did you mean" hints on unknown keys.
size_t Distance(const std::string& a, const std::string& b) {
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diagonal = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      const size_t up = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1,
                         diagonal + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diagonal = up;
    }
  }
  return row[b.size()];
}

// Shortest text that reads back to the same double.
std::string FormatDouble(double v) {
  if (std::isnan(v)) return "nan";
  if (std::isinf(v)) return v > 0 ? "inf" : "-inf";
  char buf[64];
  const auto result = std::to_chars(buf, buf + sizeof(buf), v);
  std::string s(buf, result.ptr);
  if (s.find_first_of(".eE") == std::string::npos) s += ".0";
  return s;
}

// toml++'s own writer: a double-quoted string with every character escaped
// as TOML requires (UTF-8 kept as is).
std::string QuoteToml(const std::string& s) {
  std::ostringstream out;
  out << toml::toml_formatter{toml::value<std::string>(s),
                              toml::format_flags::allow_unicode_strings};
  return out.str();
}

// Config strings are names, ids and labels: a control character (a newline
// in a variant label, say) has no use there and would break the files and
// tables they end up in.
void CheckString(const std::string& where, const std::string& key,
                 const std::string& value) {
  for (unsigned char c : value) {
    if (c < 0x20 || c == 0x7f) {
      TOKRL_FAIL() << where << ": config key '" << key
                   << "' contains a control character (code " << int{c}
                   << "); strings must be printable text";
    }
  }
}

// The text of a TOML file; `what` names it in errors. A directory is an
// error, not an empty config.
std::string ReadConfigFile(const std::filesystem::path& path,
                           const std::string& what) {
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) {
    TOKRL_FAIL() << what << " '" << path.string()
                 << "' is a directory, not a TOML file";
  }
  std::ifstream in(path, std::ios::binary);
  if (!in)
    TOKRL_FAIL() << "cannot read " << what << " '" << path.string() << "'";
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

}  // namespace

Config::Config(std::vector<ConfigField> schema) : fields_(std::move(schema)) {
  for (size_t i = 0; i < fields_.size(); ++i) {
    TOKRL_CHECK(index_.emplace(fields_[i].key, i).second)
        << "duplicate config key '" << fields_[i].key << "' in schema";
  }
}

ConfigField& Config::Field(const std::string& key, const std::string& source) {
  auto it = index_.find(key);
  if (it == index_.end()) {
    std::string hint;
    for (const auto& f : fields_) {
      if (Distance(key, f.key) <= 3) hint += (hint.empty() ? "" : ", ") + f.key;
    }
    TOKRL_FAIL() << source << ": unknown config key '" << key << "'"
                 << (hint.empty() ? "" : " (did you mean: " + hint + "?)");
  }
  return fields_[it->second];
}

const ConfigField& Config::Field(const std::string& key) const {
  auto it = index_.find(key);
  TOKRL_CHECK(it != index_.end()) << "config has no key '" << key << "'";
  return fields_[it->second];
}

void Config::LoadTomlFile(const std::filesystem::path& path) {
  LoadToml(ReadConfigFile(path, "config file"), path.string(),
           path.parent_path(), 0);
}

void Config::LoadTomlString(std::string_view text,
                            const std::string& source_name) {
  LoadToml(text, source_name, std::filesystem::current_path(), 0);
}

void Config::LoadToml(std::string_view text, const std::string& source_name,
                      const std::filesystem::path& base_dir, int depth) {
  TOKRL_CHECK_LT(depth, 8) << source_name
                           << ": include chain too deep (a cycle?)";
  toml::table table;
  try {
    table = toml::parse(text, source_name);
  } catch (const toml::parse_error& e) {
    TOKRL_FAIL() << "malformed TOML in " << source_name << " at line "
                 << e.source().begin.line << ", column "
                 << e.source().begin.column << ": " << e.description();
  }
  if (auto include = table["include"]) {
    const auto* name = include.as_string();
    if (name == nullptr) {
      TOKRL_FAIL() << source_name << ": 'include' must be a string file name";
    }
    const std::filesystem::path base = base_dir / name->get();
    LoadToml(ReadConfigFile(base, source_name + ": included file"),
             base.string(), base.parent_path(), depth + 1);
    table.erase("include");
  }
  sources_.push_back(source_name);

  // Walks tables recursively; leaves are assigned to dotted keys.
  std::function<void(const toml::table&, const std::string&)> walk =
      [&](const toml::table& t, const std::string& prefix) {
        for (const auto& [k, node] : t) {
          const std::string key = prefix + std::string(k.str());
          const std::string where =
              source_name + ":" + std::to_string(node.source().begin.line);
          if (const auto* sub = node.as_table()) {
            walk(*sub, key + ".");
            continue;
          }
          ConfigField& field = Field(key, where);
          const char* expected = TypeName(field.value);
          auto mismatch = [&]() {
            std::ostringstream got;
            got << node.type();
            TOKRL_FAIL() << where << ": config key '" << key << "' must be "
                         << expected << ", got " << got.str();
          };
          switch (field.value.index()) {
            case 0:
              if (auto b = node.value_exact<bool>()) {
                field.value = *b;
              } else {
                mismatch();
              }
              break;
            case 1:
              if (auto i = node.value_exact<int64_t>()) {
                field.value = *i;
              } else {
                mismatch();
              }
              break;
            case 2:
              if (auto d = node.value_exact<double>()) {
                field.value = *d;
              } else if (auto i2 = node.value_exact<int64_t>()) {
                field.value = static_cast<double>(*i2);
              } else {
                mismatch();
              }
              break;
            default:
              if (auto s = node.value_exact<std::string>()) {
                CheckString(where, key, *s);
                field.value = *s;
              } else {
                mismatch();
              }
          }
        }
      };
  walk(table, "");
}

void Config::Set(const std::string& key, const std::string& text) {
  ConfigField& field = Field(key, "override");
  auto bad = [&](const char* what) {
    TOKRL_FAIL() << "override " << key << "=" << text << ": '" << text
                 << "' is not " << what;
  };
  switch (field.value.index()) {
    case 0:
      if (text == "true") {
        field.value = true;
      } else if (text == "false") {
        field.value = false;
      } else {
        bad("a boolean (true or false)");
      }
      break;
    case 1: {
      char* end = nullptr;
      errno = 0;
      const long long v = std::strtoll(text.c_str(), &end, 10);
      if (text.empty() || *end != '\0' || errno != 0) bad("an integer");
      field.value = static_cast<int64_t>(v);
      break;
    }
    case 2: {
      char* end = nullptr;
      errno = 0;
      const double v = std::strtod(text.c_str(), &end);
      if (text.empty() || *end != '\0' || errno != 0) bad("a number");
      field.value = v;
      break;
    }
    default: {
      std::string s = text;
      if (s.size() >= 2 && s.front() == '"' && s.back() == '"')
        s = s.substr(1, s.size() - 2);
      CheckString("override", key, s);
      field.value = s;
    }
  }
}

void Config::SetAssignment(const std::string& assignment) {
  const auto eq = assignment.find('=');
  if (eq == std::string::npos || eq == 0) {
    TOKRL_FAIL() << "override '" << assignment << "' must look like key=value";
  }
  Set(assignment.substr(0, eq), assignment.substr(eq + 1));
}

bool Config::GetBool(const std::string& key) const {
  const auto* v = std::get_if<bool>(&Field(key).value);
  TOKRL_CHECK(v != nullptr) << "config key '" << key << "' is not a boolean";
  return *v;
}

int64_t Config::GetInt(const std::string& key) const {
  const auto* v = std::get_if<int64_t>(&Field(key).value);
  TOKRL_CHECK(v != nullptr) << "config key '" << key << "' is not an integer";
  return *v;
}

double Config::GetDouble(const std::string& key) const {
  const auto* v = std::get_if<double>(&Field(key).value);
  TOKRL_CHECK(v != nullptr) << "config key '" << key << "' is not a float";
  return *v;
}

const std::string& Config::GetString(const std::string& key) const {
  const auto* v = std::get_if<std::string>(&Field(key).value);
  TOKRL_CHECK(v != nullptr) << "config key '" << key << "' is not a string";
  return *v;
}

std::string Config::ToToml() const {
  // Group keys by their table (everything before the last dot).
  std::map<std::string, std::vector<const ConfigField*>> tables;
  for (const auto& f : fields_) {
    const auto dot = f.key.rfind('.');
    tables[dot == std::string::npos ? "" : f.key.substr(0, dot)].push_back(&f);
  }
  std::ostringstream out;
  for (const auto& [table, fields] : tables) {
    if (!table.empty()) out << "\n[" << table << "]\n";
    for (const ConfigField* f : fields) {
      const auto dot = f->key.rfind('.');
      out << (dot == std::string::npos ? f->key : f->key.substr(dot + 1))
          << " = ";
      std::visit(
          [&out](const auto& v) {
            using T = std::decay_t<decltype(v)>;
            if constexpr (std::is_same_v<T, bool>) {
              out << (v ? "true" : "false");
            } else if constexpr (std::is_same_v<T, int64_t>) {
              out << v;
            } else if constexpr (std::is_same_v<T, double>) {
              out << FormatDouble(v);
            } else {
              out << QuoteToml(v);
            }
          },
          f->value);
      out << "  # " << f->help << "\n";
    }
  }
  return out.str();
}

std::string Config::ToJson() const {
  nlohmann::ordered_json j = nlohmann::ordered_json::object();
  for (const auto& f : fields_) {
    std::visit([&](const auto& v) { j[f.key] = v; }, f.value);
  }
  return j.dump();
}

}  // namespace tokrl
