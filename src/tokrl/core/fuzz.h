// Input mutation for the fuzz-style parser tests (tests only): seeded, so a
// failure reproduces from its iteration number.
#ifndef TOKRL_CORE_FUZZ_H_
#define TOKRL_CORE_FUZZ_H_

#include <cstdint>
#include <iterator>
#include <string>

#include "tokrl/core/rng.h"

namespace tokrl {

// 1 to 4 random edits of `text`: byte flips, inserted bytes or tokens that
// parsers treat specially (quotes, brackets, huge and non-finite numbers,
// line breaks), deleted or duplicated spans, truncation.
inline std::string Mutate(std::string text, Rng& rng) {
  static const char* const kTokens[] = {"\n",
                                        "\"",
                                        "'",
                                        "[",
                                        "]",
                                        "{",
                                        "}",
                                        "=",
                                        ",",
                                        ".",
                                        "-",
                                        "#",
                                        "\\",
                                        "nan",
                                        "inf",
                                        "-inf",
                                        "1e308",
                                        "1e-320",
                                        "-1",
                                        "0",
                                        "9223372036854775807",
                                        "18446744073709551616",
                                        "4294967297",
                                        "\0",
                                        "[[x]]",
                                        "x.y.z",
                                        "true",
                                        "\xff\xfe",
                                        "`touch x`"};
  const auto pick = [&rng](size_t n) -> size_t {
    return rng.UniformInt(static_cast<uint32_t>(n));
  };
  const int edits = 1 + static_cast<int>(pick(4));
  for (int e = 0; e < edits; ++e) {
    const size_t at = text.empty() ? 0 : pick(text.size() + 1);
    switch (pick(6)) {
      case 0:
        if (!text.empty() && at < text.size())
          text[at] = static_cast<char>(text[at] ^ (1 << pick(8)));
        break;
      case 1:
        text.insert(at, 1, static_cast<char>(pick(256)));
        break;
      case 2: {
        const char* token = kTokens[pick(std::size(kTokens))];
        text.insert(at, token[0] == '\0' ? std::string(1, '\0') : token);
        break;
      }
      case 3:
        if (at < text.size()) text.erase(at, 1 + pick(16));
        break;
      case 4:
        if (at < text.size()) {
          const std::string span = text.substr(at, 1 + pick(32));
          text.insert(pick(text.size() + 1), span);
        }
        break;
      default:
        text.resize(at);
    }
  }
  return text;
}

}  // namespace tokrl

#endif  // TOKRL_CORE_FUZZ_H_
