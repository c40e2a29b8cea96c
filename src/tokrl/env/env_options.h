// Parsing of env ids with options:
// "minatar/breakout(sticky=0.1,ramping=false)".
//
// EnvOptions is a key -> string map with typed getters that validate the value
// and remember which keys were read; Finish() then rejects any key nobody read
// (a misspelt option is an error, never silently ignored). All errors are
// tokrl::Error naming the env, the key and the bad value.
#ifndef TOKRL_ENV_ENV_OPTIONS_H_
#define TOKRL_ENV_ENV_OPTIONS_H_

#include <map>
#include <set>
#include <string>
#include <utility>

namespace tokrl {

class EnvOptions {
 public:
  EnvOptions() = default;
  explicit EnvOptions(std::map<std::string, std::string> values)
      : values_(std::move(values)) {}

  void Set(const std::string& key, const std::string& value) {
    values_[key] = value;
  }
  bool Has(const std::string& key) const { return values_.count(key) > 0; }
  const std::map<std::string, std::string>& values() const { return values_; }

  // Typed getters: return `fallback` when the key is absent, throw Error when
  // the value does not parse or is outside [lo, hi].
  double GetDouble(const std::string& key, double fallback, double lo,
                   double hi);
  int GetInt(const std::string& key, int fallback, int lo, int hi);
  bool GetBool(const std::string& key, bool fallback);

  // Throws if any key was never read by a getter. `env_id` names the env in
  // the message, which also lists the known keys.
  void Finish(const std::string& env_id) const;

  // "key=value,key=value" in key order; empty when there are no options.
  std::string ToString() const;

 private:
  std::map<std::string, std::string> values_;
  std::set<std::string> read_;
};

// Splits "name(k=v,...)" into name and options. Throws Error on malformed
// input (unbalanced parentheses, empty key, duplicate key, missing '=').
std::pair<std::string, EnvOptions> ParseEnvId(const std::string& text);

}  // namespace tokrl

#endif  // TOKRL_ENV_ENV_OPTIONS_H_
