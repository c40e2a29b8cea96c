// Typed configuration with a fixed schema: TOML presets + --set overrides.
//
// A Config is built from a schema: every key (dotted, "agent.lr"), its type
// (from the default value: bool, int, double or string) and a help string.
// Values come from, in order of precedence (later wins):
//   1. the schema defaults,
//   2. TOML files (LoadTomlFile): tables map to dotted keys, so
//        [agent]
//        lr = 1e-4          sets "agent.lr";
//   3. overrides (Set / SetAssignment: "agent.lr=1e-4").
// Errors are tokrl::Error naming the source (file and line where known), the
// key and the problem: malformed TOML, an unknown key (with close matches
// listed), a wrong type (an integer is accepted for a double, nothing else
// converts), an unparsable override value.
//
// A TOML file may name a base preset with a top-level `include = "file.toml"`
// (relative to the including file); the base is loaded first.
//
// ToToml() prints every key with its resolved value (the "resolved config"
// saved with each run), and that output loads back to the same Config.
#ifndef TOKRL_CORE_CONFIG_H_
#define TOKRL_CORE_CONFIG_H_

#include <cstdint>
#include <filesystem>
#include <map>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace tokrl {

using ConfigValue = std::variant<bool, int64_t, double, std::string>;

struct ConfigField {
  std::string key;
  ConfigValue value;  // the default; its alternative fixes the type
  std::string help;
};

class Config {
 public:
  explicit Config(std::vector<ConfigField> schema);

  void LoadTomlFile(const std::filesystem::path& path);
  void LoadTomlString(std::string_view text, const std::string& source_name);
  void Set(const std::string& key, const std::string& value_text);
  // "key=value"
  void SetAssignment(const std::string& assignment);

  bool GetBool(const std::string& key) const;
  int64_t GetInt(const std::string& key) const;
  double GetDouble(const std::string& key) const;
  const std::string& GetString(const std::string& key) const;

  // The value of `key` (its alternative is the key's type).
  const ConfigValue& Value(const std::string& key) const {
    return Field(key).value;
  }

  bool Has(const std::string& key) const { return index_.count(key) > 0; }
  const std::vector<ConfigField>& fields() const { return fields_; }
  // Files loaded, in order (for the run record).
  const std::vector<std::string>& sources() const { return sources_; }

  std::string ToToml() const;
  // One JSON object {"key": value, ...} (flat, dotted keys).
  std::string ToJson() const;

 private:
  ConfigField& Field(const std::string& key, const std::string& source);
  const ConfigField& Field(const std::string& key) const;
  void LoadToml(std::string_view text, const std::string& source_name,
                const std::filesystem::path& base_dir, int depth);

  std::vector<ConfigField> fields_;
  std::map<std::string, size_t> index_;
  std::vector<std::string> sources_;
};

}  // namespace tokrl

#endif  // TOKRL_CORE_CONFIG_H_
