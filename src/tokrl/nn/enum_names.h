// Name <-> enum tables for the string-typed network options.
//
// Every option enum of tokrl::nn (encoder, tokenizer, penultimate layer, head,
// routing, ...) has a fixed table of canonical names, e.g. "tokenized_avg".
// ParseEnum() turns user text (config files, CLI flags) into the enum and
// throws tokrl::Error naming the bad value and every valid choice, unlike
// Dopamine's `assert x in Enum.__members__` (paper.md 5.3).
//
// Matching is forgiving about spelling only: it ignores ASCII case, '_' and
// '-', so "Tokenized-Avg", "tokenizedavg" and "tokenized_avg" are the same
// name. Nothing else is guessed.
#ifndef TOKRL_NN_ENUM_NAMES_H_
#define TOKRL_NN_ENUM_NAMES_H_

#include <cstddef>
#include <span>
#include <string>
#include <string_view>
#include <utility>

#include "tokrl/core/check.h"

namespace tokrl::nn {

// One row of a name table: the canonical name and its value.
template <typename E>
using EnumName = std::pair<std::string_view, E>;

namespace internal {

// Lower-cases ASCII letters and drops '_' and '-'.
inline std::string NormalizeEnumName(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    if (c == '_' || c == '-') continue;
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    out.push_back(c);
  }
  return out;
}

}  // namespace internal

// Returns the value whose canonical name matches `text`. Throws tokrl::Error
// "unknown <what> '<text>'; valid choices: a, b, c" otherwise.
template <typename E>
E ParseEnum(std::string_view what, std::string_view text,
            std::span<const EnumName<E>> table) {
  const std::string key = internal::NormalizeEnumName(text);
  for (const auto& [name, value] : table) {
    if (internal::NormalizeEnumName(name) == key) return value;
  }
  std::string choices;
  for (std::size_t i = 0; i < table.size(); ++i) {
    if (i > 0) choices += ", ";
    choices += table[i].first;
  }
  TOKRL_FAIL() << "unknown " << what << " '" << text
               << "'; valid choices: " << choices;
  return table[0].second;  // Unreachable: TOKRL_FAIL() throws.
}

// Returns the canonical name of `value`, or "?" for a value not in the table.
template <typename E>
std::string_view EnumToName(E value, std::span<const EnumName<E>> table) {
  for (const auto& [name, v] : table) {
    if (v == value) return name;
  }
  return "?";
}

}  // namespace tokrl::nn

#endif  // TOKRL_NN_ENUM_NAMES_H_
