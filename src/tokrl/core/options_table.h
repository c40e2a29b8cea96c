// Options tables: the one place a setting is declared.
//
// Each options struct (AgentOptions, TrainOptions, nn::QNetworkOptions,
// ReplayOptions, ...) has a table next to it with one row per field that a
// config may set: the key's name under the struct's prefix, its help text,
// and how the field is printed to and parsed (with its range check) from a
// config value. The default is the struct's own member initializer, and
// nothing else: the config schema is built from the tables
// (AppendSchema), and a Config is read back into the struct with
// ReadOptions. A setting is thus declared once, in its struct, and the
// table names it.
//
//   const OptionsTable<ReplayOptions>& ReplayOptionsTable() {
//     static const OptionsTable<ReplayOptions> table = {
//         IntOption("capacity", &ReplayOptions::capacity, 1, 1LL << 32,
//                   "transitions held"),
//         FloatOption("alpha", &ReplayOptions::alpha, 0, 100,
//                     "priority exponent")};
//     return table;
//   }
//
// Range errors name the key and the bounds; integers are checked against
// both the bounds and the field's type (2^32 + 1 never wraps into an int),
// floats must be finite (NaN and infinity never pass).
#ifndef TOKRL_CORE_OPTIONS_TABLE_H_
#define TOKRL_CORE_OPTIONS_TABLE_H_

#include <cmath>
#include <cstdint>
#include <functional>
#include <limits>
#include <string>
#include <string_view>
#include <vector>

#include "tokrl/core/check.h"
#include "tokrl/core/config.h"

namespace tokrl {

template <typename S>
struct OptionRow {
  std::string name;  // the key under the table's prefix: "lr"
  std::string help;
  std::function<ConfigValue(const S&)> print;
  // Checks `value` (already of the row's type) and stores it; `key` is the
  // full dotted key for messages.
  std::function<void(S&, const ConfigValue&, const std::string& key)> parse;
};

template <typename S>
using OptionsTable = std::vector<OptionRow<S>>;

template <typename S, typename T>
OptionRow<S> IntOption(std::string name, T S::*field, int64_t lo, int64_t hi,
                       std::string help) {
  static_assert(std::is_integral_v<T>);
  return {
      std::move(name), std::move(help),
      [field](const S& s) {
        return ConfigValue(static_cast<int64_t>(s.*field));
      },
      [field, lo, hi](S& s, const ConfigValue& value, const std::string& key) {
        const int64_t v = std::get<int64_t>(value);
        if (v < lo || v > hi) {
          TOKRL_FAIL() << "config key '" << key << "' must be between " << lo
                       << " and " << hi << ", got " << v;
        }
        s.*field = static_cast<T>(v);
      }};
}

// A finite float in [lo, hi], or (lo, hi] with `lo_open`.
template <typename S>
OptionRow<S> FloatOption(std::string name, double S::*field, double lo,
                         double hi, std::string help, bool lo_open = false) {
  return {
      std::move(name), std::move(help),
      [field](const S& s) { return ConfigValue(s.*field); },
      [field, lo, hi, lo_open](S& s, const ConfigValue& value,
                               const std::string& key) {
        const double v = std::get<double>(value);
        if (!(std::isfinite(v) && (lo_open ? v > lo : v >= lo) && v <= hi)) {
          TOKRL_FAIL() << "config key '" << key << "' must be a finite number "
                       << (lo_open ? "above " : "from ") << lo << " to " << hi
                       << ", got " << v;
        }
        s.*field = v;
      }};
}

template <typename S>
OptionRow<S> BoolOption(std::string name, bool S::*field, std::string help) {
  return {std::move(name), std::move(help),
          [field](const S& s) { return ConfigValue(s.*field); },
          [field](S& s, const ConfigValue& value, const std::string&) {
            s.*field = std::get<bool>(value);
          }};
}

template <typename S>
OptionRow<S> StringOption(std::string name, std::string S::*field,
                          std::string help) {
  return {std::move(name), std::move(help),
          [field](const S& s) { return ConfigValue(s.*field); },
          [field](S& s, const ConfigValue& value, const std::string&) {
            s.*field = std::get<std::string>(value);
          }};
}

// An enum stored as its name; `parse` throws tokrl::Error listing the
// valid names.
template <typename S, typename E>
OptionRow<S> EnumOption(std::string name, E S::*field,
                        E (*parse)(std::string_view),
                        std::string_view (*to_string)(E), std::string help) {
  return {
      std::move(name), std::move(help),
      [field, to_string](const S& s) {
        return ConfigValue(std::string(to_string(s.*field)));
      },
      [field, parse](S& s, const ConfigValue& value, const std::string& key) {
        try {
          s.*field = parse(std::get<std::string>(value));
        } catch (const Error& e) {
          TOKRL_FAIL() << "config key '" << key << "': " << e.what();
        }
      }};
}

// Appends prefix.name for every row, with `defaults`' values as defaults.
template <typename S>
void AppendSchema(std::vector<ConfigField>& schema, const std::string& prefix,
                  const OptionsTable<S>& table, const S& defaults = S{}) {
  for (const auto& row : table) {
    schema.push_back({prefix + "." + row.name, row.print(defaults), row.help});
  }
}

// Reads every row's key from `config` into `out` (fields without a row keep
// their values), checking each.
template <typename S>
void ReadOptions(const Config& config, const std::string& prefix,
                 const OptionsTable<S>& table, S& out) {
  for (const auto& row : table) {
    const std::string key = prefix + "." + row.name;
    row.parse(out, config.Value(key), key);
  }
}

}  // namespace tokrl

#endif  // TOKRL_CORE_OPTIONS_TABLE_H_
